import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { METHODS, runExperiment } from '../src/experiment.js';

describe('auxiliary-mnist experiment', () => {
  it('runs every method on a small sample', async () => {
    const start = tf.memory().numTensors;
    const results = await runExperiment({
      trainPairs: 128,
      testPairs: 64,
      seeds: [1],
      epochs: 1,
      batchSize: 32,
      learningRate: 1e-3,
      hiddenUnits: [16, 8],
    });
    expect(tf.memory().numTensors).toBe(start);
    expect(results.map((result) => result.method.name)).toEqual(METHODS.map((method) => method.name));
    for (const { method, runs } of results) {
      expect(runs).toHaveLength(1);
      for (const value of [runs[0]!.accuracyLeft, runs[0]!.accuracyRight]) {
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
      }
      expect(runs[0]!.bloop === undefined).toBe(method.name !== 'bloop');
    }
    const bloop = results.find((result) => result.method.name === 'bloop')!.runs[0]!.bloop!;
    // 4 steps with telemetry every 5th call: the first call reports.
    expect(bloop.reportedSteps).toBe(1);
    expect(Number.isFinite(bloop.meanCosine)).toBe(true);
  });
});
