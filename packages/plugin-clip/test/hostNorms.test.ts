import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { clipByValue, clipManyByValue, globalNorm, globalNormOnHost, normsOnHost } from '@gradhooks/plugin-clip';
import { assertNoLeak } from '@gradhooks/testing';

function withTensors<T>(values: number[][], fn: (tensors: tf.Tensor[]) => T): T {
  const tensors = values.map((row) => tf.tensor1d(row));
  try {
    return fn(tensors);
  } finally {
    tf.dispose(tensors);
  }
}

describe('norms read on the host', () => {
  it('match the device norm at any magnitude', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(1e-30, 1e-20, 1, 1e15, 1e25, 3e37),
        (rows, magnitude) => {
          const values = rows.map((row) => row.map((value) => Math.fround(value * magnitude)));
          withTensors(values, (tensors) => {
            const device = tf.tidy(() => globalNorm(tensors, 2).dataSync()[0]!);
            const host = globalNormOnHost(tensors, 2);
            expect(Math.abs(host - device)).toBeLessThanOrEqual(1e-5 * device + 1e-45);
            const perTensor = normsOnHost(tensors, 2);
            tensors.forEach((tensor, i) => {
              const alone = tf.tidy(() => globalNorm([tensor], 2).dataSync()[0]!);
              expect(Math.abs(perTensor[i]! - alone)).toBeLessThanOrEqual(1e-5 * alone + 1e-45);
            });
          });
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  });

  it('keep NaN and Infinity', () => {
    withTensors(
      [
        [1, Number.NaN],
        [2, 3],
        [Number.POSITIVE_INFINITY, 1],
      ],
      (tensors) => {
        expect(normsOnHost(tensors, 2).map(String)).toEqual(['NaN', String(Math.sqrt(13)), 'Infinity']);
        expect(globalNormOnHost(tensors, 2)).toBeNaN();
        expect(globalNormOnHost(tensors.slice(1), 2)).toBe(Number.POSITIVE_INFINITY);
      },
    );
  });

  it('recover finite norms whose squares overflow', () => {
    withTensors([[2e19, 2e19]], (tensors) => {
      expect(globalNormOnHost(tensors, 2) / (2e19 * Math.SQRT2)).toBeCloseTo(1, 6);
      expect(normsOnHost(tensors, 2)[0]! / (2e19 * Math.SQRT2)).toBeCloseTo(1, 6);
    });
  });

  it('give zero for empty input and leak nothing', async () => {
    expect(globalNormOnHost([], 2)).toBe(0);
    expect(normsOnHost([], 1)).toEqual([]);
    const tensors = [tf.tensor1d([3, 4]), tf.tensor1d([])];
    await assertNoLeak(() => {
      expect(globalNormOnHost(tensors, 2)).toBe(5);
      expect(normsOnHost(tensors, 'inf')).toEqual([4, 0]);
    });
    tf.dispose(tensors);
  });
});

describe('clipManyByValue', () => {
  it('equals the element-wise clip, non-finite values included', () => {
    const special = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3e38, -3e38);
    const element = fc.oneof(fc.double({ min: -5, max: 5, noNaN: true }).map(Math.fround), special);
    fc.assert(
      fc.property(fc.array(fc.array(element, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }), (rows) => {
        const tensors = rows.map((row) => tf.tensor1d(row));
        const many = clipManyByValue(tensors, -1, 2);
        const one = tensors.map((tensor) => clipByValue(tensor, -1, 2));
        many.forEach((tensor, i) => expect(Array.from(tensor.dataSync()).map(String)).toEqual(Array.from(one[i]!.dataSync()).map(String)));
        tf.dispose([...tensors, ...many, ...one]);
      }),
      { numRuns: 60, seed: 12 },
    );
  });
});
