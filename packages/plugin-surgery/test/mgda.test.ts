import { describe, expect, it } from 'vitest';

import { frankWolfe, mgda, mgdaWeights } from '@gradhooks/plugin-surgery';
import { aggregateJacobians, assertAllClose } from '@gradhooks/testing';

import { float32Tolerance, oracle } from '../../../test/helpers/specs.js';
import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';

type Matrix = number[][];
const gramian = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));

describe('mgda worked examples', () => {
  it('mgda-2task-closed-form: weights and direction', () => {
    const example = oracle('mgda-2task-closed-form');
    const [step] = aggregateJacobians(mgda(), [example.inputs['grads'] as Matrix]);
    assertAllClose(step!.output, example.expected['direction'], { ...float32Tolerance(), label: 'direction' });
    assertAllClose(step!.conflicts[0]!.weights!, example.expected['weights'], { rtol: 1e-6, label: 'weights' });
  });

  it('mgda-2task-clamped: the exact form returns 1 and 0, not 0.999 and 0.001', () => {
    const example = oracle('mgda-2task-clamped');
    const grads = example.inputs['grads'] as Matrix;
    expect(mgdaWeights(gramian(grads), 'auto', 100, 1e-3)).toEqual(example.expected['weights_exact']);
    expect(mgdaWeights(gramian(grads), 'frank-wolfe', 100, 1e-3)).toEqual(example.expected['weights_torchjd_fw']);
  });

  it('mgda-3task: Frank-Wolfe matches TorchJD step for step', () => {
    const example = oracle('mgda-3task');
    const grads = example.inputs['grads'] as Matrix;
    assertAllClose(frankWolfe(gramian(grads), 100, 1e-3), example.expected['weights_torchjd_fw'], { rtol: 1e-9, label: 'weights' });
    const [step] = aggregateJacobians(mgda(), [grads]);
    assertAllClose(step!.output, example.expected['direction_torchjd_fw'], { ...float32Tolerance(), label: 'direction' });
  });

  it('mgda-3task: the exact solver finds the minimum-norm point', () => {
    const example = oracle('mgda-3task');
    const grads = example.inputs['grads'] as Matrix;
    assertAllClose(mgdaWeights(gramian(grads), 'exact', 100, 1e-3), example.expected['weights_exact'], { rtol: 1e-6, label: 'weights' });
    const [step] = aggregateJacobians(mgda({ solver: 'exact' }), [grads]);
    assertAllClose(step!.output, example.expected['direction_exact'], { ...float32Tolerance(), label: 'direction' });
  });
});

describe('mgda on degenerate Jacobians', () => {
  for (const entry of degenerateCases('mgda')) {
    it(`${entry.name}: mgda`, () => {
      const [step] = aggregateJacobians(mgda(), [entry.jacobian]);
      assertAllClose(step!.output, entry.expected, { rtol: 0, atol: entry.tolerance, label: 'mgda' });
    });
  }
});

describeAggregatorProperties('mgda', { create: () => mgda(), nonConflicting: true, conflictTolerance: 1e-2, degree: 1, tolerance: { rtol: 1e-3, relativeAtol: 1e-3 } });
describeAggregatorProperties('mgda (exact)', {
  create: () => mgda({ solver: 'exact' }),
  nonConflicting: true,
  conflictTolerance: 1e-3,
  permutationInvariant: true,
  degree: 1,
  tolerance: { rtol: 1e-3, relativeAtol: 1e-3 },
});
