import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '@gradhooks/config';

import { disposeRowMnist, loadRowMnist } from '../src/data.js';
import { trainRun } from '../src/train.js';

const configs = ['none', 'global-norm', 'agc', 'zclip'];

describe('rnn-clipping example', () => {
  it('diverges without clipping, bounded with it', async () => {
    const data = loadRowMnist({ trainPerDigit: 16, testPerDigit: 4, seed: 3 });
    expect(data.train.x.shape).toEqual([160, 28, 28]);
    const start = tf.memory().numTensors;
    const settings = { epochs: 1, batchSize: 32, learningRate: 0.05, units: 64, modelSeed: 11 };
    const results = [];
    for (const name of configs) {
      const config = await loadConfig(fileURLToPath(new URL(`../configs/${name}.json`, import.meta.url)));
      results.push(await trainRun(name, config, data, settings));
    }
    disposeRowMnist(data);
    expect(tf.memory().numTensors).toBe(start - 4);

    const [none, globalNorm, agc, zclip] = results;
    expect(none!.plugins).toEqual(['nonfinite']);
    const applied = none!.batches.filter((batch) => batch.applied);
    expect(Math.max(...applied.map((batch) => batch.normBefore))).toBeGreaterThan(1e6);
    // Steps whose gradients overflowed were skipped by the guard, never applied.
    expect(none!.skippedSteps).toBe(none!.batches.length - applied.length);
    for (const clipped of [globalNorm!, zclip!]) {
      expect(clipped.batches).toHaveLength(5);
      for (const batch of clipped.batches) {
        expect(batch.applied).toBe(true);
        expect(batch.normAfter).toBeLessThanOrEqual(1 + 1e-5);
      }
    }
    for (const batch of agc!.batches) {
      expect(batch.normAfter).toBeLessThan(batch.normBefore);
    }
    for (const result of results) {
      expect(result.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(result.testAccuracy).toBeLessThanOrEqual(1);
    }
  });
});
