import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode, HookedOptimizer } from '@gradhooks/core';
import type { SessionCheckpoint } from '@gradhooks/core';

import { GRADIENT_NOISE, gradientNoise } from '../src/index.js';
import { leastSquares, recorder, skipOnCalls } from './harness.js';

const STEPS = 6;

/** Trains `STEPS` steps with SGD and noise; returns the gradients applied and the final weights. */
async function train(options: { splitAt?: number; skipCalls?: number[] } = {}) {
  const problem = leastSquares();
  const record = recorder();
  const open = () =>
    new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [gradientNoise({ eta: 0.3, seed: 21 }), record.plugin, skipOnCalls(options.skipCalls ?? [])],
    });
  let optimizer = open();
  const applied: number[][] = [];
  let checkpoint: SessionCheckpoint | undefined;
  try {
    while (optimizer.session.stepCount < STEPS) {
      if (optimizer.session.stepCount === options.splitAt && checkpoint === undefined) {
        checkpoint = JSON.parse(JSON.stringify(await optimizer.saveCheckpoint({ variables: [problem.weights] }))) as SessionCheckpoint;
        optimizer.dispose();
        // Overwrite the weights, so only the checkpoint can bring them back.
        problem.weights.assign(tf.zerosLike(problem.weights));
        optimizer = open();
        await optimizer.loadCheckpoint(checkpoint, { variables: [problem.weights] });
      }
      const result = optimizer.step(problem.objectives, { variables: [problem.weights] });
      const recorded = record.steps[record.steps.length - 1]![problem.weights.name]!;
      if (result.applied) {
        applied.push(recorded);
      }
    }
    return { applied, weights: Array.from(problem.weights.dataSync()), recorded: record.steps.map((step) => step[problem.weights.name]!), checkpoint };
  } finally {
    optimizer.dispose();
    problem.dispose();
  }
}

describe('gradient-noise state', () => {
  it('checkpoint resumes bit for bit', async () => {
    const uninterrupted = await train();
    const resumed = await train({ splitAt: 3 });

    expect(resumed.applied).toEqual(uninterrupted.applied);
    expect(resumed.weights).toEqual(uninterrupted.weights);
    const saved = resumed.checkpoint!.plugins.find((plugin) => plugin.name === GRADIENT_NOISE);
    expect(saved?.state).toEqual({ step: 3 });
  });

  it('skipped step draws the same noise again', async () => {
    const uninterrupted = await train();
    // Calls 3 and 4 are skipped: the third update is tried three times.
    const skipped = await train({ skipCalls: [3, 4] });

    expect(skipped.applied).toEqual(uninterrupted.applied);
    expect(skipped.weights).toEqual(uninterrupted.weights);
    expect(skipped.recorded).toHaveLength(STEPS + 2);
    expect(skipped.recorded[2]).toEqual(uninterrupted.applied[2]);
    expect(skipped.recorded[3]).toEqual(uninterrupted.applied[2]);
  });

  it('rejects a corrupted saved state', async () => {
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [gradientNoise({ seed: 1 })] });
    try {
      const checkpoint = await optimizer.saveCheckpoint();
      checkpoint.plugins[0]!.state = { step: -1 };
      const error = await optimizer.loadCheckpoint(checkpoint).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: ErrorCode.ERR_PLUGIN_STATE_INVALID, plugin: GRADIENT_NOISE });
      expect((error as Error).message).toContain('received {"step":-1}');
    } finally {
      optimizer.dispose();
    }
  });
});
