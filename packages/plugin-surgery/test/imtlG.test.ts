import { describe, expect, it } from 'vitest';

import { imtlG } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, aggregateJacobians, assertAllClose } from '@gradhooks/testing';

import { float32Tolerance, oraclesWithPrefix } from '../../../test/helpers/specs.js';
import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';

type Matrix = number[][];
const unit = (row: readonly number[]) => {
  const size = Math.hypot(...row);
  return row.map((value) => value / size);
};

describe('imtl-g worked examples', () => {
  for (const example of oraclesWithPrefix('imtlg-')) {
    it(`${example.id}: weights and direction`, () => {
      const [step] = aggregateJacobians(imtlG(), [example.inputs['grads'] as Matrix]);
      assertAllClose(step!.output, example.expected['direction'], { ...float32Tolerance(), label: 'direction' });
      assertAllClose(step!.conflicts[0]!.weights!, example.expected['weights'], { rtol: 1e-5, label: 'weights' });
    });
  }

  it('projects equally on every unit gradient', () => {
    const grads = oraclesWithPrefix('imtlg-3task')[0]!.inputs['grads'] as Matrix;
    const output = aggregateJacobian(imtlG(), grads);
    const projections = grads.map((row) => unit(row).reduce((total, value, l) => total + value * output[l]!, 0));
    assertAllClose(projections, projections.map(() => projections[0]!), { rtol: 1e-5 });
  });
});

describe('imtl-g on degenerate Jacobians', () => {
  for (const entry of degenerateCases('imtl-g')) {
    it(`${entry.name}: finite`, () => {
      const output = aggregateJacobian(imtlG(), entry.jacobian);
      expect(output.every(Number.isFinite)).toBe(true);
    });
  }

  it('J2 identical rows: gives the common gradient, as recommended', () => {
    assertAllClose(aggregateJacobian(imtlG(), [[1, 0], [1, 0]]), [1, 0], { rtol: 1e-6 });
  });
});

describeAggregatorProperties('imtl-g', { create: () => imtlG(), permutationInvariant: true, degree: 1, tolerance: { rtol: 1e-3, relativeAtol: 1e-3 } });
