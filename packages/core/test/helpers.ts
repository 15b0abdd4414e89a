import * as tf from '@tensorflow/tfjs';

import { definePlugin } from '@gradhooks/core';
import type { PluginInstance, PluginSpec } from '@gradhooks/core';

let counter = 0;

/** Returns a variable-name prefix no other test in this process uses (tfjs names are global). */
export function uniquePrefix(label: string): string {
  counter += 1;
  return `${label}${counter}`;
}

/** Two-objective quadratic problem: `shared/w` feeds both objectives, `left/h` only the left one. */
export function twoObjectiveProblem(prefix = uniquePrefix('problem')) {
  const shared = tf.variable(tf.tensor1d([1, 2, 3]), true, `${prefix}/shared/w`);
  const head = tf.variable(tf.tensor1d([0.5, -1]), true, `${prefix}/left/h`);
  const cLeft = tf.keep(tf.tensor1d([-4, 1, 1]));
  const cRight = tf.keep(tf.tensor1d([6, 1, 1]));
  const objectives = {
    left: () => tf.add(tf.sum(tf.mul(shared, cLeft)), tf.sum(tf.square(head))) as tf.Scalar,
    right: () => tf.sum(tf.mul(shared, cRight)) as tf.Scalar,
  };
  return {
    shared,
    head,
    variables: [shared, head],
    objectives,
    values: () => [Array.from(shared.dataSync()), Array.from(head.dataSync())],
    dispose: () => tf.dispose([shared, head, cLeft, cRight]),
  };
}

/** Defines and instantiates a throwaway plugin from its taps. */
export function tapPlugin(name: string, create: () => PluginInstance, extra: { stage?: number; exclusiveGroup?: string; dryRun?: boolean } = {}): PluginSpec {
  const factory = definePlugin({
    name,
    description: `test plugin ${name}`,
    options: { type: 'object', properties: {}, additionalProperties: false },
    ...(extra.stage === undefined ? {} : { stage: extra.stage }),
    ...(extra.exclusiveGroup === undefined ? {} : { exclusiveGroup: extra.exclusiveGroup }),
    create,
  });
  return factory(extra.dryRun === undefined ? {} : { dryRun: extra.dryRun });
}

/** Returns every weight of a model (or variables) as plain arrays, for exact comparison. */
export function snapshot(tensors: readonly tf.Tensor[]): number[][] {
  return tensors.map((tensor) => Array.from(tensor.dataSync()));
}

/** Asserts two snapshots are bit-identical, reporting the first difference. */
export function firstDifference(a: number[][], b: number[][]): string | undefined {
  if (a.length !== b.length) {
    return `lengths ${a.length} and ${b.length}`;
  }
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[i]!.length; j++) {
      if (!Object.is(a[i]![j], b[i]![j])) {
        return `tensor ${i} element ${j}: ${a[i]![j]} vs ${b[i]![j]}`;
      }
    }
  }
  return undefined;
}

/** A two-output model: a shared dense trunk and two heads, seeded. */
export function twoHeadModel(prefix: string, options: { regularize?: boolean; seed?: number } = {}) {
  const seed = options.seed ?? 3;
  const input = tf.input({ shape: [6], name: `${prefix}_in` });
  const trunk = tf.layers
    .dense({
      units: 5,
      activation: 'tanh',
      name: `${prefix}_shared`,
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      ...(options.regularize ? { kernelRegularizer: tf.regularizers.l2({ l2: 0.05 }) } : {}),
    })
    .apply(input) as tf.SymbolicTensor;
  const left = tf.layers
    .dense({ units: 3, activation: 'softmax', name: `${prefix}_left`, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) })
    .apply(trunk) as tf.SymbolicTensor;
  const right = tf.layers
    .dense({ units: 1, name: `${prefix}_right`, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) })
    .apply(trunk) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: [left, right], name: `${prefix}_model` });
}

/** Seeded data for `twoHeadModel`: 24 samples. */
export function twoHeadData() {
  const x = tf.randomNormal([24, 6], 0, 1, 'float32', 11);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2, 1, 0, 2], 'int32'), 3);
  const targets = tf.randomNormal([24, 1], 0, 1, 'float32', 12);
  return { x, yLeft: labels, yRight: targets, dispose: () => tf.dispose([x, labels, targets]) };
}
