import { describe, expect, it } from 'vitest';

import { cagrad, cagradWeights } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, assertAllClose } from '@gradhooks/testing';

import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';

type Matrix = number[][];
const gramian = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));
const base = [
  [-4, 1, 1],
  [6, 1, 1],
];

describe('cagrad worked examples', () => {
  it('matches TorchJD CAGrad(c=0.5) on J_base with rescale 0', () => {
    // TorchJD's docstring example: CAGrad(c=0.5)(J_base) = [0.1835, 1.2041, 1.2041], printed to 4 decimals.
    assertAllClose(aggregateJacobian(cagrad({ c: 0.5, rescale: 0 }), base), [0.1835, 1.2041, 1.2041], { rtol: 0, atol: 1e-4 });
  });

  it('divides by 1 + c² with rescale 1 and by 1 + c with rescale 2', () => {
    const plain = cagradWeights(gramian(base), 0.5, 0, 1e-4).weights;
    assertAllClose(cagradWeights(gramian(base), 0.5, 1, 1e-4).weights, plain.map((w) => w / 1.25), { rtol: 1e-12 });
    assertAllClose(cagradWeights(gramian(base), 0.5, 2, 1e-4).weights, plain.map((w) => w / 1.5), { rtol: 1e-12 });
  });

  it('solves the inner problem to its minimum on the simplex', () => {
    // Brute force over a fine grid of the two-objective simplex.
    const G = gramian(base);
    const g0 = [0.5, 0.5];
    const sqrtPhi = 0.5 * Math.sqrt(G.flat().reduce((t, v) => t + v, 0) / 4);
    const value = (w: number[]) => {
      const gw = G.map((row) => row.reduce((t, v, j) => t + v * w[j]!, 0));
      return gw.reduce((t, v, i) => t + v * g0[i]!, 0) + sqrtPhi * Math.sqrt(Math.max(0, gw.reduce((t, v, i) => t + v * w[i]!, 0)));
    };
    let best = Infinity;
    for (let i = 0; i <= 100000; i++) {
      best = Math.min(best, value([i / 100000, 1 - i / 100000]));
    }
    const { inner } = cagradWeights(G, 0.5, 0, 1e-4);
    expect(value(inner)).toBeLessThanOrEqual(best + 1e-9);
  });

  it('is the mean when c is 0', () => {
    assertAllClose(aggregateJacobian(cagrad({ c: 0, rescale: 0 }), base), [1, 1, 1], { rtol: 1e-6 });
  });
});

describe('cagrad on degenerate Jacobians', () => {
  for (const column of ['cagrad(c=0.5,rescale=0)', 'cagrad(c=0.5)']) {
    for (const entry of degenerateCases(column)) {
      it(`${entry.name}: ${column}`, () => {
        assertAllClose(aggregateJacobian(cagrad({ c: 0.5, rescale: 0 }), entry.jacobian), entry.expected, { rtol: 0, atol: entry.tolerance, label: column });
      });
    }
  }
});

describeAggregatorProperties('cagrad', { create: () => cagrad(), permutationInvariant: true, degree: 1, tolerance: { rtol: 1e-3, relativeAtol: 1e-3 } });
