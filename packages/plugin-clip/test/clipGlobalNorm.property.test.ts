import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { clipByGlobalNorm, readClip } from '@gradhooks/plugin-clip';
import type { ClipConvention, NormType } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

const vector = fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }).map(Math.fround), { minLength: 1, maxLength: 8 });
const gradients = fc.array(vector, { minLength: 1, maxLength: 3 });
const thresholds = Array.from({ length: 50 }, (_, i) => 10 ** (-3 + (i * 7) / 49));

function clip(values: number[][], maxNorm: number, options: { normType?: NormType; convention?: ClipConvention } = {}) {
  const inputs = Object.fromEntries(values.map((row, i) => [`g${i}`, tf.tensor1d(row)]));
  const result = clipByGlobalNorm(inputs, maxNorm, options);
  const summary = readClip(result);
  const output = Object.values(result.gradients).map((tensor) => Array.from(tensor!.dataSync()));
  tf.dispose([...Object.values(inputs), ...(Object.values(result.gradients) as tf.Tensor[]), result.norm, result.scale]);
  return { output, ...summary };
}

function norm(values: number[][], normType: NormType): number {
  const flat = values.flat();
  if (normType === 'inf') {
    return Math.max(0, ...flat.map(Math.abs));
  }
  if (normType === 1) {
    return flat.reduce((total, value) => total + Math.abs(value), 0);
  }
  return Math.sqrt(flat.reduce((total, value) => total + value * value, 0));
}

describe('global-norm clipping properties', () => {
  it('clips to the threshold exactly once, at 50 thresholds', () => {
    fc.assert(
      fc.property(gradients, fc.constantFrom<NormType>(2, 1, 'inf'), (values, normType) => {
        for (const maxNorm of thresholds) {
          const once = clip(values, maxNorm, { normType });
          const twice = clip(once.output, maxNorm, { normType });
          assertAllClose(twice.output, once.output, { rtol: 1e-5, atol: 1e-7 * maxNorm, label: `twice at ${maxNorm}` });
          const before = norm(values, normType);
          const after = norm(once.output, normType);
          expect(after).toBeLessThanOrEqual(Math.max(before, maxNorm) * (1 + 1e-5));
          if (before > maxNorm) {
            expect(after).toBeCloseTo(maxNorm, Math.max(0, 4 - Math.ceil(Math.log10(maxNorm))));
            expect(once.clipped).toBe(true);
          } else {
            expect(once.output).toEqual(values);
            expect(once.clipped).toBe(false);
          }
        }
      }),
      { numRuns: 15, seed: 7 },
    );
  });

  it('keeps the direction of the gradient', () => {
    fc.assert(
      fc.property(gradients, fc.constantFrom<ClipConvention>('exact', 'torch', 'optax'), (values, convention) => {
        const result = clip(values, 1, { convention });
        const scale = result.scale;
        assertAllClose(result.output, values.map((row) => row.map((value) => value * scale)), { rtol: 1e-5, atol: 1e-7 });
        expect(scale).toBeGreaterThan(0);
        expect(scale).toBeLessThanOrEqual(1);
      }),
      { numRuns: 40, seed: 8 },
    );
  });

  it('never turns non-finite values into finite ones', () => {
    fc.assert(
      fc.property(gradients, fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), fc.nat(), (values, bad, at) => {
        const flat = values.flat();
        const index = at % flat.length;
        let seen = 0;
        const poisoned = values.map((row) => row.map((value) => (seen++ === index ? bad : value)));
        const result = clip(poisoned, 1);
        expect(result.nonFiniteDetected).toBe(true);
        expect(result.output.flat().map(String)).toEqual(poisoned.flat().map(String));
      }),
      { numRuns: 40, seed: 9 },
    );
  });
});
