import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { definePlugin } from '@gradhooks/core';
import {
  aggregateJacobian,
  assertFiniteOnExtremes,
  assertHomogeneous,
  assertNoAggregatorLeak,
  assertNonConflicting,
  assertPermutationInvariant,
  matrixArbitrary,
  sampleMatrix,
} from '@gradhooks/testing';
import type { Aggregate, Matrix } from '@gradhooks/testing';

/** Numerical rank by Gaussian elimination with a relative pivot threshold. */
function rankOf(matrix: Matrix): number {
  const rows = matrix.map((row) => [...row]);
  const largest = Math.max(0, ...rows.flat().map(Math.abs));
  let rank = 0;
  for (let column = 0; column < (rows[0]?.length ?? 0) && rank < rows.length; column++) {
    let pivot = rank;
    for (let r = rank + 1; r < rows.length; r++) {
      if (Math.abs(rows[r]![column]!) > Math.abs(rows[pivot]![column]!)) {
        pivot = r;
      }
    }
    if (Math.abs(rows[pivot]![column]!) <= 1e-5 * largest) {
      continue;
    }
    [rows[rank], rows[pivot]] = [rows[pivot]!, rows[rank]!];
    for (let r = rank + 1; r < rows.length; r++) {
      const factor = rows[r]![column]! / rows[rank]![column]!;
      rows[r] = rows[r]!.map((value, c) => value - factor * rows[rank]![c]!);
    }
    rank += 1;
  }
  return rank;
}

const sum: Aggregate = (jacobian) => jacobian[0]!.map((_, c) => jacobian.reduce((total, row) => total + row[c]!, 0));

describe('sampleMatrix', () => {
  it('has the requested shape, rank and scale, the same for a seed', () => {
    for (const rank of [0, 1, 2, 4]) {
      const matrix = sampleMatrix(3, { rows: 5, columns: 4, rank, scale: 1e-20 });
      expect(matrix).toHaveLength(5);
      expect(matrix.every((row) => row.length === 4)).toBe(true);
      expect(rankOf(matrix)).toBe(rank);
      expect(Math.max(...matrix.flat().map(Math.abs))).toBeCloseTo(rank === 0 ? 0 : 1e-20, 26);
      expect(matrix.flat().every((value) => Math.fround(value) === value)).toBe(true);
      expect(sampleMatrix(3, { rows: 5, columns: 4, rank, scale: 1e-20 })).toEqual(matrix);
    }
  });

  it('draws matrices within the ranges of matrixArbitrary', () => {
    fc.assert(
      fc.property(matrixArbitrary({ rows: { min: 2, max: 3 }, columns: { min: 4, max: 5 }, scales: [1e10] }), (matrix) => {
        expect(matrix.length).toBeGreaterThanOrEqual(2);
        expect(matrix.length).toBeLessThanOrEqual(3);
        expect(matrix[0]!.length).toBeGreaterThanOrEqual(4);
        expect(Math.max(...matrix.flat().map(Math.abs))).toBeLessThanOrEqual(1e10 * (1 + 1e-7));
      }),
      { numRuns: 30, seed: 1 },
    );
  });
});

describe('property asserts', () => {
  const rows = [
    [-4, 1, 1],
    [6, 1, 1],
  ];

  it('assertNonConflicting catches an update against a gradient', () => {
    expect(() => assertNonConflicting(rows, [1, 0, 0])).toThrowError(/conflicts with objective 0/);
    expect(() => assertNonConflicting(rows, [0, 1, 1])).not.toThrow();
  });

  it('assertPermutationInvariant catches an order-dependent aggregator', () => {
    const first: Aggregate = (jacobian) => [...jacobian[0]!];
    expect(() => assertPermutationInvariant(first, rows)).toThrowError(/permuted/);
    expect(() => assertPermutationInvariant(sum, rows)).not.toThrow();
  });

  it('assertHomogeneous catches a nonlinear aggregator and checks the degree', () => {
    const normalized: Aggregate = (jacobian) => {
      const total = sum(jacobian);
      const size = Math.hypot(...total);
      return total.map((value) => (size > 0 ? value / size : 0));
    };
    expect(() => assertHomogeneous(normalized, rows, [1e-10, 1e10])).toThrowError(/scale/);
    expect(() => assertHomogeneous(normalized, rows, [1e-10, 1e10], 0)).not.toThrow();
    expect(() => assertHomogeneous(sum, rows, [1e-30, 1e30])).not.toThrow();
  });

  it('assertFiniteOnExtremes catches an overflow', () => {
    const squares: Aggregate = (jacobian) => sum(jacobian).map((value) => Math.fround(value * value * value));
    expect(() => assertFiniteOnExtremes(squares, rows)).toThrowError(/element/);
    expect(() => assertFiniteOnExtremes(sum, rows)).not.toThrow();
  });

  it('assertNoAggregatorLeak catches a plugin that keeps tensors', () => {
    const kept: tf.Tensor[] = [];
    const leaky = definePlugin({
      name: 'leaky',
      description: 'keeps a copy of every gradient',
      options: { type: 'object', properties: {}, additionalProperties: false },
      create: () => ({
        objectiveGradients: (gradients) => {
          for (const map of Object.values(gradients)) {
            for (const tensor of Object.values(map)) {
              if (tensor !== null) {
                kept.push(tf.keep(tf.clone(tensor)));
              }
            }
          }
          return gradients;
        },
      }),
    });
    expect(() => assertNoAggregatorLeak(leaky(), rows)).toThrowError(/left 6 tensor/);
    tf.dispose(kept);
  });

  it('aggregateJacobian runs a plugin at the representation level', () => {
    const sumPlugin = definePlugin({
      name: 'passthrough',
      description: 'changes nothing',
      options: { type: 'object', properties: {}, additionalProperties: false },
      create: () => ({}),
    });
    expect(aggregateJacobian(sumPlugin(), rows, { level: 'representation' })).toEqual([2, 2, 2]);
  });
});
