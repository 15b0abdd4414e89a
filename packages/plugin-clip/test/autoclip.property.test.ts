import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { insertSorted, percentileWith, removeSorted, torchClipCoefficient } from '@gradhooks/plugin-clip';

/** numpy.percentile with its default linear interpolation, on an unsorted array. */
function numpyPercentile(values: number[], percentile: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = ((sorted.length - 1) * percentile) / 100;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

const norm = fc.double({ min: 0, max: 1e6, noNaN: true });

describe('autoclip threshold properties', () => {
  it('equals numpy percentile over history and current norm', () => {
    fc.assert(
      fc.property(fc.array(norm, { maxLength: 40 }), norm, fc.double({ min: 0, max: 100, noNaN: true }), (history, current, percentile) => {
        const sorted: number[] = [];
        history.forEach((value) => insertSorted(sorted, value));
        const expected = numpyPercentile([...history, current], percentile);
        expect(Math.abs(percentileWith(sorted, current, percentile) - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, expected));
      }),
      { numRuns: 200, seed: 41 },
    );
  });

  it('keeps the sorted history sorted', () => {
    fc.assert(
      fc.property(fc.array(norm, { maxLength: 40 }), fc.nat(), (values, pick) => {
        const sorted: number[] = [];
        values.forEach((value) => insertSorted(sorted, value));
        if (values.length > 0) {
          removeSorted(sorted, values[pick % values.length]!);
          expect(sorted).toHaveLength(values.length - 1);
        }
        expect(sorted).toEqual([...sorted].sort((a, b) => a - b));
      }),
      { numRuns: 100, seed: 42 },
    );
  });

  it('clips the norm to the threshold', () => {
    fc.assert(
      fc.property(fc.array(norm, { maxLength: 20 }), fc.double({ min: 1e-3, max: 1e6, noNaN: true }), (history, current) => {
        const sorted = [...history].sort((a, b) => a - b);
        const threshold = percentileWith(sorted, current, 10);
        const coefficient = torchClipCoefficient(current, threshold);
        expect(coefficient).toBeLessThanOrEqual(1);
        expect(current * coefficient).toBeLessThanOrEqual(Math.max(threshold, 0) * (1 + 1e-12));
        if (current + 1e-6 <= threshold) {
          expect(coefficient).toBe(1);
        }
      }),
      { numRuns: 200, seed: 43 },
    );
  });
});
