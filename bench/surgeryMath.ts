// Aggregation-only variants of `pnpm bench:surgery`: each aggregator's `aggregate` tap on K gradient vectors of 1M float32 values.
import * as tf from '@tensorflow/tfjs';

import { createConsoleLogger, SeededRandom, StepContext } from '@gradhooks/core';
import type { GradientMap, ObjectiveGradients, PluginContext, PluginInstance, TapOnlyHooks } from '@gradhooks/core';
import { upgradWeights } from '@gradhooks/plugin-surgery';

import { AGGREGATORS } from './surgerySteps.js';
import type { Cleanup } from './surgerySteps.js';
import type { Variant } from './variants.js';

/** Values per gradient vector. */
export const VECTOR_SIZE = 1_000_000;

/** Target of the issue: Gramian-based aggregation of 8 × 1M values in at most 5× one pass reading them. */
export const MATH_TARGET = 5;

/** Aggregators that work from the Gramian alone; the target applies to these. */
const GRAMIAN_BASED = new Set(['mean', 'constant', 'random', 'pcgrad', 'upgrad', 'dualproj', 'mgda', 'cagrad', 'imtl-g', 'aligned-mtl', 'conflictfree', 'gradvac', 'nash-mtl', 'krum']);

/**
 * Builds, for K objectives, a baseline that reads the K vectors once (their
 * sum, `tf.addN`) and one variant per aggregator that runs the plugin's
 * `aggregate` tap on them, as a session does at the parameter level, and
 * reads one value of the result so the work completes. The vectors are
 * gradients of one 1M-value variable; everything a variant creates is
 * disposed after it.
 */
export function buildMathVariants(count: number, only: readonly string[] | undefined): { variants: Variant[]; cleanup: Cleanup } {
  const objectives = Array.from({ length: count }, (_, k) => `task${k}`);
  const variable = tf.tidy(() => tf.variable(tf.zeros([VECTOR_SIZE]), true, `bench_math_k${count}/w`));
  const vectors = objectives.map((_, k) => tf.randomNormal([VECTOR_SIZE], 0, 1, 'float32', 300 + k) as tf.Tensor1D);
  const gradients: ObjectiveGradients = Object.fromEntries(objectives.map((name, k) => [name, { [variable.name]: vectors[k]! } as GradientMap]));
  const logger = createConsoleLogger('error');
  const stepContext = (index: number) => new StepContext({ index, call: index + 1, level: 'parameter', variables: [variable], report: false, logger });
  const baselineKey = `K${count} read once (addN)`;
  const variants: Variant[] = [
    {
      key: baselineKey,
      description: `sum of ${count} vectors of ${VECTOR_SIZE} values (one pass reading them)`,
      baseline: undefined,
      target: undefined,
      step: () => {
        const total = tf.addN(vectors);
        total.dataSync();
        total.dispose();
      },
    },
  ];
  for (const aggregator of AGGREGATORS) {
    if (only !== undefined && !only.includes(aggregator.name)) {
      continue;
    }
    const spec = aggregator.create(objectives);
    if (spec === undefined) {
      continue;
    }
    const context: PluginContext = {
      name: spec.definition.name,
      objectives,
      level: 'parameter',
      random: new SeededRandom(1),
      logger,
      hooks: undefined as unknown as TapOnlyHooks,
      matchesVariable: () => true,
    };
    const instance = spec.definition.create(spec.options as never, context) as PluginInstance;
    const tap = instance.aggregate;
    const aggregate = typeof tap === 'function' ? tap : tap!.fn;
    let index = 0;
    variants.push({
      key: `K${count} ${aggregator.name}`,
      description: `${aggregator.name} on ${count} × ${VECTOR_SIZE} values${GRAMIAN_BASED.has(aggregator.name) ? '' : ' (coordinate-wise)'}`,
      baseline: baselineKey,
      target: count === 8 && GRAMIAN_BASED.has(aggregator.name) ? MATH_TARGET : undefined,
      step: () => {
        const step = stepContext(index++);
        tf.tidy(() => {
          const output = aggregate(gradients, step) as GradientMap;
          output[variable.name]!.dataSync();
        });
        step.runCommits();
      },
    });
  }
  return { variants, cleanup: () => tf.dispose([variable, ...vectors]) };
}

/**
 * Diagnostic variants that time the parts of a Gramian-based aggregation of
 * K vectors of 1M values: stacking them into [K, P], the Gramian product
 * J Jᵀ (tfjs's matMul with transposeB), the same product with Jᵀ already
 * laid out as [P, K] (no transpose flag), the small solve (UPGrad's K
 * quadratic programs on the K×K Gramian), and the combination wᵀJ.
 */
export function buildBreakdownVariants(count: number): { variants: Variant[]; cleanup: Cleanup } {
  const vectors = Array.from({ length: count }, (_, k) => tf.randomNormal([VECTOR_SIZE], 0, 1, 'float32', 300 + k) as tf.Tensor1D);
  const stacked = tf.stack(vectors) as tf.Tensor2D;
  const transposed = tf.transpose(stacked) as tf.Tensor2D;
  const gramian = Array.from(tf.tidy(() => tf.matMul(stacked, stacked, false, true)).dataSync());
  const rows = Array.from({ length: count }, (_, i) => gramian.slice(i * count, (i + 1) * count));
  const weights = tf.tensor2d([Array.from({ length: count }, (_, k) => 1 + k / 10)]);
  const read = (tensor: tf.Tensor) => {
    tensor.dataSync();
    tensor.dispose();
  };
  const baselineKey = `K${count} read once (addN)`;
  const part = (key: string, description: string, step: () => void): Variant => ({ key: `K${count} ${key}`, description, baseline: baselineKey, target: undefined, step });
  const variants: Variant[] = [
    { key: baselineKey, description: `sum of ${count} vectors of ${VECTOR_SIZE} values`, baseline: undefined, target: undefined, step: () => read(tf.addN(vectors)) },
    part('stack', `tf.stack of the ${count} vectors into [K, P]`, () => read(tf.stack(vectors))),
    part('gramian J·Jᵀ', 'tf.matMul(J, J, false, true) and reading the K² products', () => read(tf.matMul(stacked, stacked, false, true))),
    part('gramian J·(Jᵀ laid out)', 'tf.matMul(J, Jᵀ) with Jᵀ stored as [P, K]', () => read(tf.matMul(stacked, transposed))),
    part('transpose', 'tf.transpose of J into [P, K]', () => read(tf.transpose(stacked))),
    part('upgrad solve', `${count} quadratic programs on the ${count}×${count} Gramian (quadprog)`, () => {
      upgradWeights(rows, rows.map(() => 1 / count), { normEps: 1e-4, regEps: 1e-4 });
    }),
    part('combination wᵀJ', 'tf.matMul of the weights with J', () => read(tf.matMul(weights, stacked))),
  ];
  return { variants, cleanup: () => tf.dispose([...vectors, stacked, transposed, weights]) };
}
