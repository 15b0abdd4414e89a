import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';

import { definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { GradientMap, PluginSpec, SessionCheckpoint } from '@gradhooks/core';
import { accumulate, agc, autoclip, clipGlobalNorm, clipNorm, clipValue, emaWeights, nonfinite, zclip } from '@gradhooks/plugin-clip';
import { assertSteadyTensorCount } from '@gradhooks/testing';

import { uniquePrefix } from './helpers.js';

const STEPS = 10;
/** Steps whose loss is multiplied by NaN, so their gradients are non-finite. */
const POISONED = new Set([3, 6]);

// One batch per step, created once so that every run trains on the same data.
const batches = Array.from({ length: STEPS }, (_, i) => ({
  x: tf.randomNormal([6, 4], 0, 1, 'float32', 100 + i),
  y: tf.mul(tf.randomNormal([6, 2], 0, 1, 'float32', 200 + i), 20),
}));
afterAll(() => tf.dispose(batches.flatMap((batch) => [batch.x, batch.y])));

let failing = false;
const failOnDemand = definePlugin({
  name: 'fail-on-demand',
  description: 'throws while the test asks it to',
  options: { type: 'object', properties: {}, additionalProperties: false },
  stage: Stage.NOISE + 1,
  create: () => ({
    gradients: (gradients: GradientMap) => {
      if (failing) {
        throw new Error('runtime failure');
      }
      return gradients;
    },
  }),
});

interface Case {
  name: string;
  plugins: () => PluginSpec[];
  /** Poison some steps with NaN; only for chains that guard against it. */
  poisoned?: boolean;
}

const cases: Case[] = [
  { name: 'clip-value', plugins: () => [clipValue({ max: 0.5 })] },
  { name: 'clip-norm', plugins: () => [clipNorm({ maxNorm: 0.5 })] },
  { name: 'clip-global-norm', plugins: () => [clipGlobalNorm({ maxNorm: 1 })] },
  { name: 'agc', plugins: () => [agc({ clipping: 0.01 })] },
  { name: 'autoclip', plugins: () => [autoclip({ history: 4 })] },
  { name: 'zclip', plugins: () => [zclip({ warmupSteps: 3 })] },
  { name: 'nonfinite', plugins: () => [nonfinite({ onLimit: 'event' })], poisoned: true },
  { name: 'accumulate', plugins: () => [accumulate({ steps: 3 })] },
  { name: 'ema-weights', plugins: () => [emaWeights({ decay: 0.9, warmup: true, biasCorrection: true })] },
  {
    name: 'chain',
    plugins: () => [nonfinite({ onLimit: 'event' }), accumulate({ steps: 2 }), clipGlobalNorm({ maxNorm: 1 }), zclip({ warmupSteps: 2 }), autoclip(), emaWeights({ decay: 0.8 })],
    poisoned: true,
  },
];

function run(entry: Case, prefix: string) {
  const initial = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 0.5, 'float32', seed);
  const variables = [
    tf.variable(initial([4, 3], 1), true, `${prefix}/hidden/kernel`),
    tf.variable(initial([3], 2), true, `${prefix}/hidden/bias`),
    tf.variable(initial([3, 2], 3), true, `${prefix}/out/kernel`),
    tf.variable(initial([2], 4), true, `${prefix}/out/bias`),
  ];
  const [w1, b1, w2, b2] = variables as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  const start = tf.memory().numTensors;
  const optimizer = new HookedOptimizer(tf.train.adam(0.01), { plugins: [...entry.plugins(), failOnDemand()] });
  const step = (i: number) =>
    optimizer.step(
      {
        loss: () => {
          const { x, y } = batches[i]!;
          const output = tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, w1), b1)), w2), b2);
          const loss = tf.mean(tf.square(tf.sub(output, y))) as tf.Scalar;
          return entry.poisoned === true && POISONED.has(i) ? (tf.mul(loss, Number.NaN) as tf.Scalar) : loss;
        },
      },
      { variables },
    );
  return {
    optimizer,
    variables,
    start,
    step,
    snapshot: () => variables.map((variable) => Array.from(variable.dataSync())),
    dispose: () => {
      optimizer.dispose();
      tf.dispose(variables);
    },
  };
}

/** Plugin states of a checkpoint as JSON, with the run's variable prefix replaced so runs compare. */
function states(checkpoint: SessionCheckpoint, prefix: string): string {
  return JSON.stringify(checkpoint.plugins.map((plugin) => plugin.state)).replaceAll(`${prefix}/`, 'run/');
}

describe.each(cases)('$name lifecycle', (entry) => {
  it('keeps numTensors flat and frees everything', () => {
    const problem = run(entry, uniquePrefix('memory'));
    const counts: number[] = [];
    const applied: boolean[] = [];
    for (let i = 0; i < STEPS; i++) {
      applied.push(problem.step(i).applied);
      counts.push(tf.memory().numTensors);
    }
    // Adam's slots and the averages appear with the first applied step.
    assertSteadyTensorCount(counts, applied.indexOf(true));

    // A failing step leaves the count unchanged. Micro-steps of an accumulation window skip before
    // the failing tap runs, so the step is repeated until one reaches it.
    failing = true;
    let thrown: unknown;
    try {
      for (let attempt = 0; attempt < 3 && thrown === undefined; attempt++) {
        const before = tf.memory().numTensors;
        try {
          problem.step(0);
        } catch (error) {
          thrown = error;
        }
        expect(tf.memory().numTensors).toBe(before);
      }
    } finally {
      failing = false;
    }
    expect(thrown).toMatchObject({ plugin: 'fail-on-demand' });

    const start = problem.start;
    problem.dispose();
    expect(tf.memory().numTensors).toBe(start - 4);
  });

  it('resumes from a JSON checkpoint bit for bit', async () => {
    const prefixA = uniquePrefix('whole');
    const whole = run(entry, prefixA);
    for (let i = 0; i < STEPS; i++) {
      whole.step(i);
    }
    const expected = whole.snapshot();
    const expectedStates = states(await whole.optimizer.saveCheckpoint(), prefixA);
    whole.dispose();

    const prefixB = uniquePrefix('split');
    const first = run(entry, prefixB);
    for (let i = 0; i < STEPS / 2; i++) {
      first.step(i);
    }
    const checkpoint = JSON.parse(JSON.stringify(await first.optimizer.saveCheckpoint({ variables: first.variables }))) as SessionCheckpoint;
    first.dispose();

    const resumed = run(entry, prefixB);
    await resumed.optimizer.loadCheckpoint(checkpoint, { variables: resumed.variables });
    for (let i = STEPS / 2; i < STEPS; i++) {
      resumed.step(i);
    }
    expect(resumed.snapshot()).toEqual(expected);
    expect(states(await resumed.optimizer.saveCheckpoint(), prefixB)).toBe(expectedStates);
    resumed.dispose();
  });
});
