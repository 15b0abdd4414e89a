import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { clipEachByNorm, readPerTensorClip } from '@gradhooks/plugin-clip';
import type { NormType } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

const vector = fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }).map(Math.fround), { minLength: 1, maxLength: 8 });
const gradients = fc.array(vector, { minLength: 1, maxLength: 4 });
const thresholds = Array.from({ length: 20 }, (_, i) => 10 ** (-2 + (i * 5) / 19));

function clipEach(values: number[][], maxNorm: number, normType: NormType) {
  const inputs = Object.fromEntries(values.map((row, i) => [`g${i}`, tf.tensor1d(row)]));
  const clip = clipEachByNorm(inputs, maxNorm, normType);
  const summary = readPerTensorClip(clip);
  const output = Object.values(clip.gradients).map((tensor) => Array.from(tensor!.dataSync()));
  tf.dispose([...Object.values(inputs), ...(Object.values(clip.gradients) as tf.Tensor[]), clip.norms, clip.scales]);
  return { output, ...summary };
}

function norm(values: number[], normType: NormType): number {
  if (normType === 'inf') {
    return Math.max(0, ...values.map(Math.abs));
  }
  if (normType === 1) {
    return values.reduce((total, value) => total + Math.abs(value), 0);
  }
  return Math.sqrt(values.reduce((total, value) => total + value * value, 0));
}

describe('per-tensor norm clipping properties', () => {
  it('bounds each tensor and clips twice as once, at 20 thresholds', () => {
    fc.assert(
      fc.property(gradients, fc.constantFrom<NormType>(2, 1, 'inf'), (values, normType) => {
        for (const maxNorm of thresholds) {
          const once = clipEach(values, maxNorm, normType);
          const twice = clipEach(once.output, maxNorm, normType);
          assertAllClose(twice.output, once.output, { rtol: 1e-5, atol: 1e-7 * maxNorm, label: `twice at ${maxNorm}` });
          values.forEach((row, i) => {
            const before = norm(row, normType);
            const after = norm(once.output[i]!, normType);
            if (before > maxNorm) {
              expect(Math.abs(after - maxNorm)).toBeLessThanOrEqual(maxNorm * 1e-5);
            } else {
              expect(once.output[i]).toEqual(row);
            }
          });
          expect(once.clippedTensors).toBe(values.filter((row) => norm(row, normType) > maxNorm).length);
        }
      }),
      { numRuns: 15, seed: 21 },
    );
  });

  it('keeps the direction of each tensor', () => {
    fc.assert(
      fc.property(gradients, (values) => {
        const result = clipEach(values, 1, 2);
        values.forEach((row, i) => {
          const scale = result.scales[`g${i}`]!;
          assertAllClose(result.output[i], row.map((value) => value * scale), { rtol: 1e-5, atol: 1e-7 });
        });
      }),
      { numRuns: 30, seed: 22 },
    );
  });
});
