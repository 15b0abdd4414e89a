import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { adaptiveClip } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

const shapes = fc.constantFrom<number[]>([5], [4, 3], [2, 3, 4], [2, 2, 3, 5], [1, 6], [6, 1]);
const magnitude = fc.constantFrom(1e-4, 1e-2, 1, 1e3);

function sample(shape: number[], seed: number, scale: number): tf.Tensor {
  return tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale);
}

function clip(gradient: tf.Tensor, parameter: tf.Tensor, clipping: number) {
  return tf.tidy(() => {
    const result = adaptiveClip(gradient, parameter, clipping, 1e-3);
    return {
      output: result.gradient,
      gradientNorm: Array.from(result.gradientNorm.dataSync()),
      maxNorm: Array.from(result.maxNorm.dataSync()),
    };
  });
}

describe('adaptive gradient clipping properties', () => {
  it('bounds every unit and clips twice as once', () => {
    fc.assert(
      fc.property(shapes, fc.integer({ min: 1, max: 1000 }), magnitude, fc.constantFrom(0.01, 0.1, 1), (shape, seed, scale, clipping) => {
        const gradient = sample(shape, seed, scale);
        const parameter = sample(shape, seed + 1, 0.3);
        const once = clip(gradient, parameter, clipping);
        const again = clip(once.output, parameter, clipping);
        again.gradientNorm.forEach((norm, unit) => expect(norm).toBeLessThanOrEqual(once.maxNorm[unit]! * (1 + 1e-5)));
        assertAllClose(again.output, once.output.arraySync(), { rtol: 1e-5, atol: 1e-9 });
        // Units below their limit are not touched at all.
        const input = gradient.arraySync();
        const output = once.output.arraySync();
        if (once.gradientNorm.every((norm, unit) => norm < once.maxNorm[unit]!)) {
          expect(output).toEqual(input);
        }
        tf.dispose([gradient, parameter, once.output, again.output]);
      }),
      { numRuns: 60, seed: 31 },
    );
  });

  it('only shrinks units, keeping their direction', () => {
    fc.assert(
      fc.property(shapes, fc.integer({ min: 1, max: 1000 }), magnitude, (shape, seed, scale) => {
        const gradient = sample(shape, seed, scale);
        const parameter = sample(shape, seed + 7, 1);
        const once = clip(gradient, parameter, 0.05);
        // Each element is the input times a factor in (0, 1] shared by its unit.
        const ratio = tf.tidy(() => tf.div(once.output, tf.where(tf.equal(gradient, 0), tf.onesLike(gradient), gradient)).dataSync());
        for (const value of ratio) {
          expect(value).toBeGreaterThan(0);
          expect(value).toBeLessThanOrEqual(1 + 1e-6);
        }
        tf.dispose([gradient, parameter, once.output]);
      }),
      { numRuns: 40, seed: 32 },
    );
  });
});
