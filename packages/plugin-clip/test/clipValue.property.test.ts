import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { clipByValue } from '@gradhooks/plugin-clip';

const element = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map(Math.fround) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY) },
);
const bounds = fc
  .tuple(fc.double({ min: -100, max: 100, noNaN: true }).map(Math.fround), fc.double({ min: 0, max: 100, noNaN: true }).map(Math.fround))
  .map(([min, width]) => [min, Math.fround(min + width)] as const);

function clip(values: number[], min: number, max: number): number[] {
  return tf.tidy(() => Array.from(clipByValue(tf.tensor1d(values), min, max).dataSync()));
}

describe('clip-by-value properties', () => {
  it('clips twice the same as once', () => {
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 12 }), bounds, (values, [min, max]) => {
        const once = clip(values, min, max);
        expect(clip(once, min, max).map(String)).toEqual(once.map(String));
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it('bounds finite values and keeps the others', () => {
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 12 }), bounds, (values, [min, max]) => {
        const output = clip(values, min, max);
        values.forEach((value, i) => {
          if (!Number.isFinite(value)) {
            expect(String(output[i])).toBe(String(value));
          } else if (value >= min && value <= max) {
            // == so that -0 and +0 compare equal: tfjs may return +0 for -0.
            expect(output[i] === value).toBe(true);
          } else {
            expect(output[i] === (value < min ? min : max)).toBe(true);
          }
        });
      }),
      { numRuns: 60, seed: 12 },
    );
  });
});
