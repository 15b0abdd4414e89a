import { describe, expect, it } from 'vitest';

import { gradvac, pcgrad, vaccinate } from '@gradhooks/plugin-surgery';
import { aggregateJacobians, assertAllClose, sampleMatrix } from '@gradhooks/testing';

import { float32Tolerance, oracle } from '../../../test/helpers/specs.js';
import { describeAggregatorProperties, degenerateCases } from './aggregatorProperties.js';
import { runWithCheckpoint } from './resume.js';

type Matrix = number[][];
const gramian = (rows: Matrix) => rows.map((a) => rows.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));

describe('gradvac worked examples', () => {
  const example = oracle('gradvac-2task-2steps');
  const grads = example.inputs['grads_each_step'] as Matrix;
  const steps = example.expected['steps'] as Array<{ direction: number[]; rho_T_01: number; rho_T_10: number }>;

  it('gradvac-2task-2steps: targets after each step', () => {
    let targets = [
      [0, 0],
      [0, 0],
    ];
    for (const expected of steps) {
      const result = vaccinate(gramian(grads), [[1], [0]], targets, 0.5, 0);
      targets = result.targets;
      // LibMTL adds 1e-8 to its denominators; the library does not, so the values agree to about 1e-8.
      assertAllClose([targets[0]![1]!, targets[1]![0]!], [expected.rho_T_01, expected.rho_T_10], { rtol: 1e-7, label: 'targets' });
    }
  });

  it('gradvac-2task-2steps: plugin direction on each step', () => {
    const runs = aggregateJacobians(gradvac(), [grads, grads]);
    runs.forEach((run, i) => assertAllClose(run.output, steps[i]!.direction, { ...float32Tolerance(), label: `step ${i + 1}` }));
  });

  it('equals PCGrad on its first step', () => {
    const rows = sampleMatrix(9, { rows: 4, columns: 6 });
    const order = rows.map((_, i) => rows.map((__, j) => j).filter((j) => j !== i));
    const [vaccinated] = aggregateJacobians(gradvac({ order }), [rows]);
    const [projected] = aggregateJacobians(pcgrad({ order }), [rows]);
    assertAllClose(vaccinated!.output, projected!.output, { rtol: 1e-5, atol: 1e-6 });
  });
});

describe('gradvac on degenerate Jacobians', () => {
  for (const entry of degenerateCases('gradvac(target init 0)')) {
    it(`${entry.name}: gradvac`, () => {
      const [run] = aggregateJacobians(gradvac(), [entry.jacobian]);
      assertAllClose(run!.output, entry.expected, { rtol: 0, atol: entry.tolerance, label: 'gradvac' });
    });
  }
});

describe('gradvac state', () => {
  const jacobians = [0, 1, 2, 3, 4, 5].map((seed) => sampleMatrix(20 + seed, { rows: 3, columns: 5 }));

  it('resumes exactly from a checkpoint', async () => {
    const straight = await runWithCheckpoint(() => gradvac({ seed: 4 }), jacobians);
    const resumed = await runWithCheckpoint(() => gradvac({ seed: 4 }), jacobians, 3);
    expect(resumed).toEqual(straight);
  });

  it('changes the update once targets have moved', async () => {
    const outputs = await runWithCheckpoint(() => gradvac({ order: [[1, 2], [0, 2], [0, 1]] }), [jacobians[0]!, jacobians[0]!]);
    expect(outputs[1]).not.toEqual(outputs[0]);
  });
});

describeAggregatorProperties('gradvac', { create: () => gradvac(), degree: 1, tolerance: { rtol: 1e-3, relativeAtol: 1e-3 } });
