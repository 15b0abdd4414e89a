import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { autoclip, nonfinite, zclip } from '@gradhooks/plugin-clip';

import { gradientFeeder } from './helpers.js';

const value = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom('NaN', 'Infinity', '-Infinity') },
);
const steps = fc.array(fc.tuple(value, value), { minLength: 1, maxLength: 15 });

describe('nonfinite properties', () => {
  it('never lets a non-finite value reach the weights', () => {
    fc.assert(
      fc.property(steps, fc.constantFrom('skip', 'zero') as fc.Arbitrary<'skip' | 'zero'>, (sequence, policy) => {
        const feeder = gradientFeeder([nonfinite({ policy, onLimit: 'event', maxConsecutiveSkips: 2 })], { w: [0, 0] }, { inner: tf.train.adam(0.1) });
        let applied = 0;
        for (const pair of sequence) {
          applied += feeder.step({ w: pair }).applied ? 1 : 0;
          expect(feeder.values()['w'].every(Number.isFinite)).toBe(true);
        }
        const finiteSteps = sequence.filter((pair) => pair.every((item) => typeof item === 'number')).length;
        expect(applied).toBe(policy === 'skip' ? finiteSteps : sequence.length);
        expect(feeder.optimizer.iterations).toBe(applied);
        feeder.dispose();
      }),
      { numRuns: 25, seed: 61 },
    );
  });

  it('skipped steps advance no other plugin state', async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (sequence) => {
        const guarded = gradientFeeder([nonfinite({ onLimit: 'event' }), autoclip(), zclip({ warmupSteps: 2 })], { w: [0, 0] }, { inner: tf.train.sgd(0.1) });
        const finiteOnly = gradientFeeder([nonfinite({ onLimit: 'event' }), autoclip(), zclip({ warmupSteps: 2 })], { w: [0, 0] }, { inner: tf.train.sgd(0.1) });
        for (const pair of sequence) {
          guarded.step({ w: pair });
          if (pair.every((item) => typeof item === 'number')) {
            finiteOnly.step({ w: pair });
          }
        }
        const states = async (feeder: typeof guarded) => (await feeder.optimizer.saveCheckpoint()).plugins.slice(1).map((plugin) => plugin.state);
        expect(await states(guarded)).toEqual(await states(finiteOnly));
        expect(guarded.values()).toEqual(finiteOnly.values());
        guarded.dispose();
        finiteOnly.dispose();
      }),
      { numRuns: 20, seed: 62 },
    );
  });
});
