import { describe, expect, it } from 'vitest';

import { conflictFree, conflictFreeWeights } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, assertAllClose } from '@gradhooks/testing';

import { float32Tolerance, oraclesWithPrefix } from '../../../test/helpers/specs.js';
import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';

type Matrix = number[][];
const gramian = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));
const combine = (rows: Matrix, weights: number[]) => rows[0]!.map((_, l) => rows.reduce((total, row, k) => total + weights[k]! * row[l]!, 0));

describe('conflictfree worked examples', () => {
  for (const example of oraclesWithPrefix('config-')) {
    it(`${example.id}: direction`, () => {
      assertAllClose(aggregateJacobian(conflictFree(), example.inputs['grads'] as Matrix), example.expected['direction'], { ...float32Tolerance(), label: 'direction' });
    });
  }

  it('tracks the smallest norm: every unit gradient counts with the shortest length', () => {
    // Orthogonal rows of norms 1 and 3: u = (1, 1)/√2, projections of the units 1/√2 each, length 2·1·(1/√2) = √2.
    const rows = [
      [1, 0],
      [0, 3],
    ];
    assertAllClose(combine(rows, conflictFreeWeights(gramian(rows), [1, 1], 'min')), [1, 1], { rtol: 1e-12 });
    assertAllClose(combine(rows, conflictFreeWeights(gramian(rows), [1, 1], 'max')), [3, 3], { rtol: 1e-12 });
    assertAllClose(combine(rows, conflictFreeWeights(gramian(rows), [1, 1], 'arithmetic')), [2, 2], { rtol: 1e-12 });
    assertAllClose(combine(rows, conflictFreeWeights(gramian(rows), [1, 1], 'harmonic')), [1.5, 1.5], { rtol: 1e-12 });
    assertAllClose(combine(rows, conflictFreeWeights(gramian(rows), [1, 1], 'geometric')), [Math.sqrt(3), Math.sqrt(3)], { rtol: 1e-12 });
    assertAllClose(combine(rows, conflictFreeWeights(gramian(rows), [1, 1], 'projection')), [2, 2], { rtol: 1e-12 });
  });

  it('has equal cosine with every gradient', () => {
    const rows = oraclesWithPrefix('config-3task')[0]!.inputs['grads'] as Matrix;
    const output = aggregateJacobian(conflictFree(), rows);
    const cosines = rows.map((row) => row.reduce((t, v, l) => t + v * output[l]!, 0) / (Math.hypot(...row) * Math.hypot(...output)));
    assertAllClose(cosines, cosines.map(() => cosines[0]!), { rtol: 1e-5 });
    expect(cosines[0]!).toBeGreaterThan(0);
  });
});

describe('conflictfree on degenerate Jacobians', () => {
  for (const entry of degenerateCases('conflictfree')) {
    it(`${entry.name}: conflictfree`, () => {
      assertAllClose(aggregateJacobian(conflictFree(), entry.jacobian), entry.expected, { rtol: 0, atol: entry.tolerance, label: 'conflictfree' });
    });
  }
});

describeAggregatorProperties('conflictfree', {
  create: () => conflictFree(),
  nonConflicting: true,
  conflictTolerance: 1e-3,
  permutationInvariant: true,
  degree: 1,
  tolerance: { rtol: 1e-3, relativeAtol: 1e-3 },
});
