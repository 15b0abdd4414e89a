// Training-step variants of `pnpm bench:surgery`: every aggregator against the weighted-sum step of the same K-head model.
import * as tf from '@tensorflow/tfjs';

import { FanOut, HookedOptimizer } from '@gradhooks/core';
import type { GradientLevel, PluginSpec } from '@gradhooks/core';
import {
  alignedMtl,
  cagrad,
  conflictFree,
  constant,
  dualproj,
  graddrop,
  gradvac,
  imtlG,
  krum,
  mean,
  mgda,
  nashMtl,
  pcgrad,
  random,
  trimmedMean,
  upgrad,
} from '@gradhooks/plugin-surgery';

import { BATCH, CLASSES, crossEntropy, HIDDEN, INPUT, trainableVariablesOf } from './models.js';
import type { Variant } from './variants.js';

const LEARNING_RATE = 0.01;

/** Step-time targets of the issue for representation-level surgery: 1.08× the sum step at K = 2 and 1.25× at K = 8. */
export const REPRESENTATION_TARGETS: Readonly<Record<number, number>> = { 2: 1.08, 8: 1.25 };

/** An aggregator under benchmark: its config name and a factory for K objectives, or undefined when it does not apply to K. */
export interface BenchedAggregator {
  name: string;
  create: (objectives: readonly string[]) => PluginSpec | undefined;
}

/** Every aggregator except `sum`, which is the baseline. */
export const AGGREGATORS: readonly BenchedAggregator[] = [
  { name: 'mean', create: () => mean() },
  { name: 'constant', create: (objectives) => constant({ weights: Object.fromEntries(objectives.map((name, k) => [name, 1 + k / 10])) }) },
  { name: 'random', create: () => random({ seed: 1 }) },
  { name: 'pcgrad', create: () => pcgrad({ seed: 1 }) },
  { name: 'upgrad', create: () => upgrad() },
  { name: 'dualproj', create: () => dualproj() },
  { name: 'mgda', create: () => mgda() },
  { name: 'cagrad', create: () => cagrad() },
  { name: 'imtl-g', create: () => imtlG() },
  { name: 'aligned-mtl', create: () => alignedMtl() },
  { name: 'conflictfree', create: () => conflictFree() },
  { name: 'gradvac', create: () => gradvac({ seed: 1 }) },
  { name: 'graddrop', create: () => graddrop({ seed: 1 }) },
  { name: 'nash-mtl', create: () => nashMtl() },
  { name: 'krum', create: (objectives) => (objectives.length >= 4 ? krum({ byzantine: 1 }) : undefined) },
  { name: 'trimmed-mean', create: (objectives) => (objectives.length >= 3 ? trimmedMean({ trim: 1 }) : undefined) },
];

/** Disposes the models and optimizers of the step variants. */
export type Cleanup = () => void;

/**
 * Builds a 784-256-128 trunk shared by K ten-way heads, with a `FanOut`
 * between trunk and heads when `fanOut` is set.
 */
function multiHeadModel(prefix: string, objectives: readonly string[], fanOut: boolean): tf.LayersModel {
  const dense = (units: number, activation: 'relu' | 'linear', name: string, seed: number) =>
    tf.layers.dense({ units, activation, name, kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: 'zeros' });
  const input = tf.input({ shape: [INPUT], name: `${prefix}_input` });
  const h1 = dense(HIDDEN[0], 'relu', `${prefix}_dense1`, 1).apply(input) as tf.SymbolicTensor;
  const z = dense(HIDDEN[1], 'relu', `${prefix}_dense2`, 2).apply(h1) as tf.SymbolicTensor;
  const inputs = fanOut ? (new FanOut({ objectives: [...objectives], name: `${prefix}_fan_out` }).apply(z) as tf.SymbolicTensor[]) : objectives.map(() => z);
  const heads = objectives.map((name, k) => dense(CLASSES, 'linear', `${prefix}_${name}`, 3 + k).apply(inputs[k]!) as tf.SymbolicTensor);
  return tf.model({ inputs: input, outputs: heads, name: prefix });
}

/**
 * Builds, for K objectives, the baseline weighted-sum step and one step per
 * aggregator at each level. Parameter-level steps take one forward and
 * backward pass per objective; representation-level steps share one forward
 * pass through the fan-out and take one backward pass. Every variant has its
 * own SGD optimizer (no slot variables), so sharing a model between variants
 * does not couple their costs.
 */
export function buildSurgeryVariants(count: number, levels: readonly GradientLevel[], only: readonly string[] | undefined): { variants: Variant[]; cleanup: Cleanup } {
  const objectives = Array.from({ length: count }, (_, k) => `task${k}`);
  const x = tf.randomUniform([BATCH, INPUT], 0, 1, 'float32', 7);
  const labels = objectives.map((_, k) => tf.oneHot(tf.randomUniform([BATCH], 0, CLASSES, 'int32', 100 + k) as tf.Tensor1D, CLASSES).toFloat() as tf.Tensor2D);
  const disposables: Array<{ dispose(): void }> = [x, ...labels];
  const variants: Variant[] = [];

  for (const level of levels) {
    const model = multiHeadModel(`bench_k${count}_${level}`, objectives, level === 'representation');
    disposables.push(model);
    const variables = trainableVariablesOf(model);
    let outputs: tf.Tensor[] | undefined;
    // Parameter level: each objective runs its own forward pass; representation level: one shared pass per step.
    const forward = () => (level === 'representation' ? (outputs ??= model.apply(x) as tf.Tensor[]) : (model.apply(x) as tf.Tensor[]));
    const losses = Object.fromEntries(objectives.map((name, k) => [name, () => crossEntropy(labels[k]!, forward()[k]!)]));
    const stepWith = (optimizer: HookedOptimizer) => () => {
      try {
        optimizer.step(losses, { variables });
      } finally {
        outputs = undefined;
      }
    };

    const baselineKey = `K${count} ${level} sum`;
    const baseline = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { level });
    disposables.push(baseline);
    variants.push({ key: baselineKey, description: `weighted sum, ${count} objectives, ${level} level`, baseline: undefined, target: undefined, step: stepWith(baseline) });
    for (const aggregator of AGGREGATORS) {
      if (only !== undefined && !only.includes(aggregator.name)) {
        continue;
      }
      const plugin = aggregator.create(objectives);
      if (plugin === undefined) {
        continue;
      }
      const optimizer = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { level, plugins: [plugin] });
      disposables.push(optimizer);
      variants.push({
        key: `K${count} ${level} ${aggregator.name}`,
        description: `${aggregator.name}, ${count} objectives, ${level} level`,
        baseline: baselineKey,
        target: level === 'representation' ? REPRESENTATION_TARGETS[count] : undefined,
        step: stepWith(optimizer),
      });
    }
  }
  return { variants, cleanup: () => disposables.forEach((item) => item.dispose()) };
}
