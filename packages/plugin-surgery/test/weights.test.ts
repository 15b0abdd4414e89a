import { describe, expect, it } from 'vitest';

import { constant, mean, random, sum } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, aggregateJacobians, assertAllClose } from '@gradhooks/testing';

import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';

const base = [
  [-4, 1, 1],
  [6, 1, 1],
];

describe('constant', () => {
  it('weights each objective by name', () => {
    assertAllClose(aggregateJacobian(constant({ weights: { task0: 2, task1: 0.5 } }), base), [-5, 2.5, 2.5], { rtol: 1e-6 });
  });

  it('names a missing objective', () => {
    expect(() => aggregateJacobian(constant({ weights: { task0: 1 } }), base)).toThrowError(expect.objectContaining({ plugin: 'constant', path: '/weights' }));
  });

  it('requires weights', () => {
    expect(() => constant({} as never)).toThrowError(expect.objectContaining({ plugin: 'constant' }));
  });
});

describe('random', () => {
  it('draws positive weights summing to 1, new each step, the same for a seed', () => {
    const first = aggregateJacobians(random({ seed: 3 }), [base, base, base]);
    const second = aggregateJacobians(random({ seed: 3 }), [base, base, base]);
    const weights = first.map((step) => step.conflicts[0]?.weights ?? []);
    expect(second.map((step) => step.output)).toEqual(first.map((step) => step.output));
    for (const w of weights) {
      expect(w.every((value) => value > 0)).toBe(true);
      expect(w.reduce((total, value) => total + value, 0)).toBeCloseTo(1, 12);
    }
    expect(new Set(weights.map((w) => w.join())).size).toBe(3);
  });
});

describe('sum and mean on degenerate Jacobians', () => {
  for (const entry of degenerateCases('mean')) {
    it(`${entry.name}: mean`, () => {
      assertAllClose(aggregateJacobian(mean(), entry.jacobian), entry.expected, { rtol: 0, atol: entry.tolerance, label: 'mean' });
    });
  }
});

describeAggregatorProperties('sum', { create: () => sum(), permutationInvariant: true, degree: 1 });
describeAggregatorProperties('mean', { create: () => mean(), permutationInvariant: true, degree: 1 });
describeAggregatorProperties('constant', { create: () => constant({ weights: { task0: 0.5, task1: 2, task2: 1, task3: 1, task4: 3 } }), degree: 1 });
describeAggregatorProperties('random', { create: () => random({ seed: 2 }), degree: 1 });
