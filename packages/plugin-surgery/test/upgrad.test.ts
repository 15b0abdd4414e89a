import { describe, expect, it } from 'vitest';

import { dualproj, upgrad, upgradWeights } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, aggregateJacobians, assertAllClose, assertNonConflicting } from '@gradhooks/testing';

import { float32Tolerance, oracle } from '../../../test/helpers/specs.js';
import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';

type Matrix = number[][];
const gramian = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));

describe('upgrad worked examples', () => {
  const example = oracle('upgrad-2task');
  const grads = example.inputs['grads'] as Matrix;

  it('upgrad-2task: weights with the default regularisation', () => {
    assertAllClose(upgradWeights(gramian(grads), [0.5, 0.5], { normEps: 1e-4, regEps: 1e-4 }), example.expected['weights'], { rtol: 1e-9, label: 'weights' });
  });

  it('upgrad-2task: weights without regularisation equal the exact projection', () => {
    assertAllClose(upgradWeights(gramian(grads), [0.5, 0.5], { normEps: 1e-4, regEps: 0 }), example.expected['weights_reg_eps_0'], { rtol: 1e-9, label: 'weights' });
  });

  it('upgrad-2task: plugin update and reported weights', () => {
    const [step] = aggregateJacobians(upgrad(), [grads]);
    assertAllClose(step!.output, example.expected['direction'], { ...float32Tolerance(), label: 'direction' });
    assertAllClose(step!.conflicts[0]!.weights!, example.expected['weights'], { rtol: 1e-5, label: 'weights' });
  });

  it('dualproj on J_base: the mean projected onto the face where it meets g1', () => {
    // The mean [1, 1, 1] conflicts with g1 = [-4, 1, 1] only: d = mean − (⟨g1, mean⟩/‖g1‖²) g1 = [5/9, 10/9, 10/9].
    assertAllClose(aggregateJacobian(dualproj({ regEps: 0 }), grads), [5 / 9, 10 / 9, 10 / 9], { ...float32Tolerance(), label: 'regEps 0' });
    const regularized = aggregateJacobian(dualproj(), grads);
    assertAllClose(regularized, [5 / 9, 10 / 9, 10 / 9], { rtol: 1e-3, atol: 1e-3, label: 'default regEps' });
    assertNonConflicting(grads, regularized, 1e-3);
  });
});

describe('upgrad and dualproj on degenerate Jacobians', () => {
  for (const [column, create] of [
    ['upgrad', () => upgrad()],
    ['dualproj', () => dualproj()],
  ] as const) {
    for (const entry of degenerateCases(column)) {
      it(`${entry.name}: ${column}`, () => {
        assertAllClose(aggregateJacobian(create(), entry.jacobian), entry.expected, { rtol: 0, atol: entry.tolerance, label: column });
      });
    }
  }
});

describe('upgrad options', () => {
  it('treats a Gramian with trace below normEps as zero and returns the mean', () => {
    const rows = [
      [-4e-3, 1e-3],
      [6e-3, 1e-3],
    ];
    const output = aggregateJacobian(upgrad({ normEps: 1 }), rows);
    assertAllClose(output, [1e-3, 1e-3], { rtol: 1e-5, atol: 1e-9 });
  });

  it('rejects a negative regEps', () => {
    expect(() => upgrad({ regEps: -1 })).toThrowError(expect.objectContaining({ plugin: 'upgrad', path: '/regEps' }));
  });
});

// A ridge of 1e-9 instead of 1e-4 keeps the non-conflict guarantee sharp for short gradients. The float32
// Gramian leaves noise of about 1e-7 of its trace, hence the 1e-3 tolerances relative to the longest gradient.
const dualConePlan = { nonConflicting: true, conflictTolerance: 1e-3, permutationInvariant: true, degree: 1, tolerance: { rtol: 1e-3, relativeAtol: 1e-3 } };
describeAggregatorProperties('upgrad', { create: () => upgrad({ normEps: 0, regEps: 1e-9 }), ...dualConePlan });
describeAggregatorProperties('dualproj', { create: () => dualproj({ normEps: 0, regEps: 1e-9 }), ...dualConePlan });
