import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { pcgrad, projectConflicting } from '@gradhooks/plugin-surgery';
import { assertAllClose } from '@gradhooks/testing';

import { referencePcgrad, runOnJacobian } from './harness.js';

type Matrix = number[][];

/**
 * Float32 entries that are zero or between 1e-3 and 10 in magnitude. Tiny magnitudes relative
 * to the others are left to the dedicated test below: there PCGrad's epsilon guard skips
 * projections that a float64 reference would still make.
 */
const entry = fc.oneof(
  fc.constant(0),
  fc.tuple(fc.double({ min: 1e-3, max: 10, noNaN: true }), fc.boolean()).map(([value, negative]) => Math.fround(negative ? -value : value)),
);

/** Jacobians of 2 to 4 objectives over 1 to 6 dimensions, with float32 entries. */
const jacobian = fc
  .record({ count: fc.integer({ min: 2, max: 4 }), size: fc.integer({ min: 1, max: 6 }) })
  .chain(({ count, size }) => fc.array(fc.array(entry, { minLength: size, maxLength: size }), { minLength: count, maxLength: count }));

const twoObjectives = fc.integer({ min: 1, max: 6 }).chain((size) => fc.array(fc.array(entry, { minLength: size, maxLength: size }), { minLength: 2, maxLength: 2 }));

/** A random visiting order: for each i, a permutation of the other indices. */
function orderFor(count: number) {
  return fc.tuple(...Array.from({ length: count }, (_, i) => fc.shuffledSubarray(Array.from({ length: count }, (__, j) => j).filter((j) => j !== i), { minLength: count - 1 })));
}

const gramianOf = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((total, value, l) => total + value * b[l]!, 0);

describe('pcgrad properties', () => {
  it('leaves no conflict between two projected gradients and their originals', () => {
    fc.assert(
      fc.property(twoObjectives, (rows) => {
        const result = projectConflicting(gramianOf(rows), [[1], [0]], 0, 'sum');
        const projected = result.coefficients.map((row) => rows[0]!.map((_, l) => row.reduce((total, c, j) => total + c * rows[j]![l]!, 0)));
        const scale = Math.max(1e-12, ...rows.flat().map(Math.abs)) ** 2;
        expect(dot(projected[0]!, rows[1]!)).toBeGreaterThanOrEqual(-1e-9 * scale);
        expect(dot(projected[1]!, rows[0]!)).toBeGreaterThanOrEqual(-1e-9 * scale);
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  it('matches projection on vectors for any order', () => {
    fc.assert(
      fc.property(
        jacobian.chain((rows) => fc.tuple(fc.constant(rows), orderFor(rows.length))),
        ([rows, order]) => {
          const expected = referencePcgrad(rows, order);
          const run = runOnJacobian([pcgrad({ order })], rows);
          const magnitude = Math.max(1, ...expected.combined.map(Math.abs), ...rows.flat().map(Math.abs));
          assertAllClose(run.output['w'], expected.combined, { rtol: 1e-4, atol: 1e-5 * magnitude });
        },
      ),
      { numRuns: 40, seed: 2 },
    );
  });

  it('is linear under positive scaling, from 1e-30 to 1e30', () => {
    const scales = [0, 1e-30, 1e-20, 1e-10, 3.5, 1e10, 1e20, 1e30];
    fc.assert(
      fc.property(jacobian, (rows) => {
        const order = rows.map((_, i) => rows.map((__, j) => j).filter((j) => j !== i));
        const base = runOnJacobian([pcgrad({ order })], rows).output['w']!;
        for (const scale of scales) {
          const scaled = rows.map((row) => row.map((value) => Math.fround(value * scale)));
          const output = runOnJacobian([pcgrad({ order })], scaled).output['w']!;
          expect(output.every((value) => Number.isFinite(value))).toBe(true);
          const magnitude = Math.max(...base.map(Math.abs), ...rows.flat().map(Math.abs)) * scale;
          assertAllClose(output, base.map((value) => value * scale), { rtol: 1e-4, atol: 1e-5 * magnitude + 1e-45, label: `scale ${scale}` });
        }
      }),
      { numRuns: 8, seed: 3 },
    );
  });

  it('stays finite with zero, tiny and huge gradients mixed', () => {
    const magnitudes = [0, 1e-40, 1e-30, 1, 1e30, 3e38];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...magnitudes), fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 })), { minLength: 2, maxLength: 4 }),
        (tasks) => {
          const rows = tasks.map(([magnitude, row]) => row.map((value) => Math.fround(value * magnitude)));
          const output = runOnJacobian([pcgrad()], rows).output['w']!;
          expect(output.every((value) => Number.isFinite(value))).toBe(true);
        },
      ),
      { numRuns: 40, seed: 4 },
    );
  });

  it('does not depend on which of two objectives comes first', () => {
    fc.assert(
      fc.property(twoObjectives, (rows) => {
        const forward = runOnJacobian([pcgrad()], rows).output['w']!;
        const backward = runOnJacobian([pcgrad()], [rows[1]!, rows[0]!]).output['w']!;
        const magnitude = Math.max(1, ...rows.flat().map(Math.abs));
        assertAllClose(backward, forward, { rtol: 1e-5, atol: 1e-6 * magnitude });
      }),
      { numRuns: 40, seed: 5 },
    );
  });

  it('returns the gradients unchanged when none conflict', () => {
    fc.assert(
      fc.property(jacobian, (rows) => {
        // Make every pair non-conflicting by flipping rows into the half-space of the first.
        const aligned = rows.map((row) => (dot(row, rows[0]!) < 0 ? row.map((value) => -value) : row));
        const gramian = gramianOf(aligned);
        fc.pre(gramian.every((row) => row.every((value) => value >= 0)));
        const result = projectConflicting(gramian, aligned.map((_, i) => aligned.map((__, j) => j).filter((j) => j !== i)), 0, 'sum');
        expect(result.projections).toEqual([]);
        expect(result.weights).toEqual(aligned.map(() => 1));
      }),
      { numRuns: 200, seed: 6 },
    );
  });
});
