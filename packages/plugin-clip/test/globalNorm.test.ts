import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';

import { globalNorm, tensorNorms } from '@gradhooks/plugin-clip';
import type { NormType } from '@gradhooks/plugin-clip';

const startBackend = tf.getBackend();
afterAll(async () => {
  await tf.setBackend(startBackend);
});

function normOf(rows: number[][], normType: NormType): number {
  return tf.tidy(() => globalNorm(rows.map((row) => tf.tensor1d(row)), normType).dataSync()[0]!);
}

describe('globalNorm non-finite elements', () => {
  for (const backend of ['cpu', 'wasm']) {
    it(`propagates NaN and Infinity on ${backend}`, async () => {
      await tf.setBackend(backend);
      for (const normType of [2, 1, 'inf'] as const) {
        for (const position of [0, 2, 4]) {
          const withNaN = [[1, 2, 3], [4, 5]].map((row, r) => row.map((value, c) => (r * 3 + c === position ? Number.NaN : value)));
          expect(normOf(withNaN, normType), `NaN at ${position}, norm ${normType}`).toBeNaN();
          const withInfinity = [[1, 2, 3], [4, 5]].map((row, r) => row.map((value, c) => (r * 3 + c === position ? Number.NEGATIVE_INFINITY : value)));
          expect(normOf(withInfinity, normType), `Infinity at ${position}, norm ${normType}`).toBe(Number.POSITIVE_INFINITY);
        }
        expect(normOf([[Number.POSITIVE_INFINITY, 1], [Number.NaN]], normType), `both, norm ${normType}`).toBeNaN();
      }
    });
  }

  it('keeps the true L2 norm of finite values that overflow when squared', () => {
    expect(normOf([[3e30], [4e30]], 2)).toBeCloseTo(5e30, -25);
    expect(normOf([[3e-30], [4e-30]], 2) / 5e-30).toBeCloseTo(1, 5);
  });
});

describe('tensorNorms', () => {
  it('matches globalNorm tensor by tensor', () => {
    const rows = [[3, -4], [Number.NaN, 1], [Number.POSITIVE_INFINITY, 2], [], [2e30, 2e30]];
    for (const normType of [2, 1, 'inf'] as const) {
      const perTensor = tf.tidy(() => Array.from(tensorNorms(rows.map((row) => tf.tensor1d(row)), normType).dataSync()));
      const one = rows.map((row) => normOf([row], normType));
      expect(perTensor.map(String), `norm ${normType}`).toEqual(one.map(String));
    }
  });

  it('returns an empty vector for no tensors', () => {
    const norms = tensorNorms([], 2);
    expect(norms.shape).toEqual([0]);
    norms.dispose();
  });
});
