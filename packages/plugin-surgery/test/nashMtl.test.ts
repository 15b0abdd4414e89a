import { describe, expect, it } from 'vitest';

import { nashMtl, nashWeights } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, assertAllClose, sampleMatrix } from '@gradhooks/testing';

import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';
import { runWithCheckpoint } from './resume.js';

type Matrix = number[][];
const gramian = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));
const base = [
  [-4, 1, 1],
  [6, 1, 1],
];

describe('nash-mtl bargaining solution', () => {
  it('solves αᵢ (Gα)ᵢ = 1 on J_base', () => {
    const G = gramian(base);
    const { weights } = nashWeights(G, 20);
    const products = weights.map((alpha, i) => alpha * G[i]!.reduce((total, value, j) => total + value * weights[j]!, 0));
    assertAllClose(products, [1, 1], { rtol: 1e-9 });
  });

  it('solves it for four objectives of mixed scales', () => {
    const rows = sampleMatrix(31, { rows: 4, columns: 6 }).map((row, k) => row.map((value) => value * 10 ** (k - 2)));
    const G = gramian(rows);
    const { weights } = nashWeights(G, 50);
    const products = weights.map((alpha, i) => alpha * G[i]!.reduce((total, value, j) => total + value * weights[j]!, 0));
    assertAllClose(products, [1, 1, 1, 1], { rtol: 1e-6 });
  });

  it('caps the update norm at maxNorm', () => {
    const output = aggregateJacobian(nashMtl({ maxNorm: 0.5 }), base);
    expect(Math.hypot(...output)).toBeCloseTo(0.5, 5);
    const uncapped = aggregateJacobian(nashMtl({ maxNorm: 0 }), base);
    assertAllClose(output, uncapped.map((value) => (value * 0.5) / Math.hypot(...uncapped)), { rtol: 1e-5 });
  });
});

describe('nash-mtl on degenerate Jacobians', () => {
  const columns: Array<[string, number]> = [
    ['nash-mtl(maxNorm=1; without a cap any positive multiple of [0,-1])', 1],
    ['nash-mtl', 1],
    ['nash-mtl(no norm cap)', 0],
    ['nash-mtl(maxNorm=1)', 1],
  ];
  for (const [column, maxNorm] of columns) {
    for (const entry of degenerateCases(column)) {
      it(`${entry.name}: ${column}`, () => {
        assertAllClose(aggregateJacobian(nashMtl({ maxNorm }), entry.jacobian), entry.expected, { rtol: 0, atol: entry.tolerance, label: column });
      });
    }
  }
});

describe('nash-mtl state', () => {
  const jacobians = [0, 1, 2, 3, 4].map((seed) => sampleMatrix(40 + seed, { rows: 3, columns: 5 }));

  it('reuses its weights between solves with updateEvery', async () => {
    const outputs = await runWithCheckpoint(() => nashMtl({ updateEvery: 2, maxNorm: 0 }), [jacobians[0]!, jacobians[1]!, jacobians[1]!]);
    const fresh = await runWithCheckpoint(() => nashMtl({ maxNorm: 0 }), [jacobians[1]!]);
    expect(outputs[1]).not.toEqual(fresh[0]);
    assertAllClose(outputs[2]!, fresh[0]!, { rtol: 1e-5, atol: 1e-6 });
  });

  it('resumes exactly from a checkpoint', async () => {
    const straight = await runWithCheckpoint(() => nashMtl({ updateEvery: 2 }), jacobians);
    const resumed = await runWithCheckpoint(() => nashMtl({ updateEvery: 2 }), jacobians, 3);
    expect(resumed).toEqual(straight);
  });
});

// The bargaining solution exists when the gradients are linearly independent, hence more columns than rows.
describeAggregatorProperties('nash-mtl', { create: () => nashMtl({ maxNorm: 0 }), columns: { min: 6, max: 9 }, permutationInvariant: true, degree: 0, scales: [1e-20, 1e-5, 3.5, 1e5, 1e20], tolerance: { rtol: 1e-3, relativeAtol: 1e-3 } });
