import { describe, it } from 'vitest';

import { alignedMtl } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, aggregateJacobians, assertAllClose } from '@gradhooks/testing';

import { float32Tolerance, oracle } from '../../../test/helpers/specs.js';
import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';

type Matrix = number[][];

describe('aligned-mtl worked examples', () => {
  const example = oracle('aligned-mtl-2task');
  for (const scaleMode of ['min', 'median', 'rmse'] as const) {
    it(`aligned-mtl-2task: scaleMode ${scaleMode}`, () => {
      const expected = example.expected[scaleMode] as { weights: number[]; direction: number[] };
      const [step] = aggregateJacobians(alignedMtl({ scaleMode }), [example.inputs['grads'] as Matrix]);
      assertAllClose(step!.output, expected.direction, { ...float32Tolerance(), label: 'direction' });
      assertAllClose(step!.conflicts[0]!.weights!, expected.weights, { rtol: 1e-5, label: 'weights' });
    });
  }

  it('median takes the lower middle of an even number of eigenvalues', () => {
    // Orthogonal rows of norms 1, 2, 3, 4: eigenvalues 16, 9, 4, 1; median 4, so B = 2 Λ^{-1/2} and w = 2/(4·‖gᵢ‖).
    const rows = [
      [1, 0, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 3, 0],
      [0, 0, 0, 4],
    ];
    assertAllClose(aggregateJacobian(alignedMtl({ scaleMode: 'median' }), rows), [0.5, 0.5, 0.5, 0.5], { rtol: 1e-5 });
  });
});

describe('aligned-mtl on degenerate Jacobians', () => {
  for (const entry of degenerateCases('aligned-mtl(scaleMode=min)')) {
    it(`${entry.name}: aligned-mtl`, () => {
      assertAllClose(aggregateJacobian(alignedMtl(), entry.jacobian), entry.expected, { rtol: 0, atol: entry.tolerance, label: 'aligned-mtl' });
    });
  }
});

describeAggregatorProperties('aligned-mtl', { create: () => alignedMtl(), permutationInvariant: true, degree: 1, tolerance: { rtol: 1e-3, relativeAtol: 1e-3 } });
