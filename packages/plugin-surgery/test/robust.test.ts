import { describe, expect, it } from 'vitest';

import { krum, krumWeights, trimmedMean } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, assertAllClose } from '@gradhooks/testing';

import { describeAggregatorProperties } from './aggregatorProperties.js';

type Matrix = number[][];
const gramian = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));

describe('krum', () => {
  const honest = [
    [1, 0],
    [1.2, 0.1],
    [0.9, -0.1],
    [1, 0.3],
  ];
  const outlier = [40, -40];

  it('selects the gradient closest to its neighbours, not the outlier', () => {
    const rows = [...honest, outlier];
    // Scores with byzantine 1 sum the distances to the 5 − 1 − 2 = 2 nearest others: 0.365, 0.506, 0.502, 0.583 and over 100 for the outlier.
    expect(krumWeights(gramian(rows), 1, 1)).toEqual([1, 0, 0, 0, 0]);
    assertAllClose(aggregateJacobian(krum({ byzantine: 1 }), rows), [1, 0], { rtol: 1e-6 });
  });

  it('averages the selected gradients in Multi-Krum', () => {
    const weights = krumWeights(gramian([...honest, outlier]), 1, 3);
    expect(weights.reduce((total, w) => total + w, 0)).toBeCloseTo(1, 12);
    expect(weights[4]).toBe(0);
  });

  it('needs byzantine + 3 objectives', () => {
    expect(() => aggregateJacobian(krum({ byzantine: 1 }), honest.slice(0, 3))).toThrowError(expect.objectContaining({ plugin: 'krum', received: 3 }));
  });

  it('scales with the gradients when the selection is clear', () => {
    const rows = [...honest, outlier];
    for (const scale of [1e-30, 1e-10, 1e10, 1e30]) {
      const scaled = rows.map((row) => row.map((value) => Math.fround(value * scale)));
      assertAllClose(aggregateJacobian(krum({ byzantine: 1 }), scaled), [Math.fround(scale), 0], { rtol: 1e-6, label: `scale ${scale}` });
    }
  });

  it('requires the byzantine option', () => {
    expect(() => krum({} as never)).toThrowError(expect.objectContaining({ plugin: 'krum' }));
  });
});

describe('trimmed-mean', () => {
  it('drops the extremes of each coordinate', () => {
    const rows = [
      [1, 10],
      [2, -30],
      [3, 20],
      [100, 0],
      [-50, 5],
    ];
    // Column 0 sorted: −50, 1, 2, 3, 100 → mean of 1, 2, 3 = 2; column 1: −30, 0, 5, 10, 20 → 5.
    assertAllClose(aggregateJacobian(trimmedMean({ trim: 1 }), rows), [2, 5], { rtol: 1e-6 });
    assertAllClose(aggregateJacobian(trimmedMean({ trim: 0 }), rows), [11.2, 1], { rtol: 1e-6 });
  });

  it('works at the representation level', () => {
    const rows = [
      [1, 10],
      [2, -30],
      [3, 20],
    ];
    assertAllClose(aggregateJacobian(trimmedMean({ trim: 1 }), rows, { level: 'representation' }), [2, 10], { rtol: 1e-6 });
  });

  it('needs 2·trim + 1 objectives', () => {
    expect(() => aggregateJacobian(trimmedMean({ trim: 1 }), [[1], [2]])).toThrowError(expect.objectContaining({ plugin: 'trimmed-mean', received: 2 }));
  });
});

// Krum selects by distances from a float32 Gramian: near-ties can flip between scales, so homogeneity is checked on a clear case above.
describeAggregatorProperties('krum', { create: () => krum({ byzantine: 0 }), rows: { min: 3, max: 6 } });
describeAggregatorProperties('trimmed-mean', { create: () => trimmedMean({ trim: 1 }), rows: { min: 3, max: 6 }, permutationInvariant: true, degree: 1 });
