import fc from 'fast-check';

import { SeededRandom } from '@gradhooks/core';

/** Rows of numbers: row k is objective k's gradient. */
export type Matrix = number[][];

/** Shape, rank and scale of a sampled matrix. */
export interface MatrixSpec {
  rows: number;
  columns: number;
  /** Rank of the matrix; min(rows, columns) when omitted. 0 gives the zero matrix. */
  rank?: number;
  /** Largest magnitude of an entry (before rounding to float32); 1 when omitted. */
  scale?: number;
}

/**
 * Samples a matrix of the given rank and scale from a seed: the product of
 * two standard normal factors [rows, rank] × [rank, columns], scaled so its
 * largest magnitude is `scale`, each entry rounded to float32. The same seed
 * and spec always give the same matrix.
 *
 * @example
 * ```ts
 * const jacobian = sampleMatrix(7, { rows: 4, columns: 10, rank: 2, scale: 1e-20 });
 * ```
 */
export function sampleMatrix(seed: number, spec: MatrixSpec): Matrix {
  const random = new SeededRandom(seed);
  const rank = Math.max(0, Math.min(spec.rank ?? Math.min(spec.rows, spec.columns), spec.rows, spec.columns));
  const scale = spec.scale ?? 1;
  const left = Array.from({ length: spec.rows }, () => Array.from({ length: rank }, () => random.normal()));
  const right = Array.from({ length: rank }, () => Array.from({ length: spec.columns }, () => random.normal()));
  const product = left.map((row) => right[0] === undefined ? new Array<number>(spec.columns).fill(0) : right[0].map((_, c) => row.reduce((total, value, r) => total + value * right[r]![c]!, 0)));
  const largest = Math.max(0, ...product.flat().map(Math.abs));
  const factor = largest > 0 ? scale / largest : 0;
  return product.map((row) => row.map((value) => Math.fround(value * factor)));
}

/** Ranges for `matrixArbitrary`. */
export interface MatrixRanges {
  rows?: { min: number; max: number };
  columns?: { min: number; max: number };
  /** Scales to pick from; [1] when omitted. */
  scales?: readonly number[];
  /** Whether matrices below full rank are drawn too (rank from 0 to full); default true. */
  lowRank?: boolean;
}

/**
 * fast-check arbitrary of matrices drawn with `sampleMatrix`: shape, rank,
 * scale and seed are drawn, so a failure is reported as the spec and seed
 * that rebuild the matrix.
 */
export function matrixArbitrary(ranges: MatrixRanges = {}): fc.Arbitrary<Matrix> {
  const rows = ranges.rows ?? { min: 2, max: 5 };
  const columns = ranges.columns ?? { min: 1, max: 8 };
  const scales = ranges.scales ?? [1];
  return fc
    .record({
      rows: fc.integer(rows),
      columns: fc.integer(columns),
      rankFraction: ranges.lowRank === false ? fc.constant(1) : fc.double({ min: 0, max: 1, noNaN: true }),
      scale: fc.constantFrom(...scales),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    })
    .map(({ rows: r, columns: c, rankFraction, scale, seed }) => {
      const full = Math.min(r, c);
      const rank = ranges.lowRank === false ? full : Math.round(rankFraction * full);
      return sampleMatrix(seed, { rows: r, columns: c, rank, scale });
    });
}

/** Magnitudes from zero to float32's extremes: subnormal, tiny, one, huge and near the largest float32. */
export const EXTREME_SCALES = [0, 1e-40, 1e-30, 1e-10, 1, 1e10, 1e30, 1e38] as const;
