import { describe, expect, it } from 'vitest';

import { mean, pcgrad, projectConflicting, sum } from '@gradhooks/plugin-surgery';
import { assertAllClose, fromSpec } from '@gradhooks/testing';

import { float32Tolerance, oracle, oraclesWithPrefix, regressionCase } from '../../../test/helpers/specs.js';
import { referencePcgrad, runAggregator, runOnJacobian } from './harness.js';

type Matrix = number[][];

/** Row i of the projected Jacobian: coefficients times the original rows. */
function projectedRows(coefficients: Matrix, jacobian: Matrix): Matrix {
  return coefficients.map((row) => jacobian[0]!.map((_, l) => row.reduce((total, c, j) => total + c * jacobian[j]![l]!, 0)));
}

function defaultOrder(count: number): number[][] {
  return Array.from({ length: count }, (_, i) => Array.from({ length: count }, (__, j) => j).filter((j) => j !== i));
}

describe('pcgrad worked examples', () => {
  for (const example of oraclesWithPrefix('pcgrad-')) {
    const grads = fromSpec(example.inputs['grads']) as Matrix;
    const order = Array.isArray(example.params['order']) ? (example.params['order'] as number[][]) : defaultOrder(grads.length);
    const expected = example.expected;

    it(`${example.id}: weights and projections from the Gramian`, () => {
      const gramian = grads.map((a) => grads.map((b) => a.reduce((total, value, l) => total + value * b[l]!, 0)));
      const result = projectConflicting(gramian, order, 0, 'sum');
      assertAllClose(projectedRows(result.coefficients, grads), expected['projected'], { rtol: 1e-9, atol: 1e-12, label: 'projected' });
      if (expected['weights'] !== undefined) {
        assertAllClose(result.weights, expected['weights'], { rtol: 1e-9, label: 'weights' });
      }
    });

    for (const reduction of ['sum', 'mean'] as const) {
      if (expected[reduction] === undefined) {
        continue;
      }
      it(`${example.id}: plugin output with reduction ${reduction}`, () => {
        const options = { reduction, ...(Array.isArray(example.params['order']) ? { order } : {}) };
        const run = runOnJacobian([pcgrad(options)], grads);
        assertAllClose(run.output['w'], expected[reduction], { ...float32Tolerance(), label: reduction });
      });
    }
  }

  it('pcgrad-2task: reports its weights, cosines and projections', () => {
    const example = oracle('pcgrad-2task');
    const grads = example.inputs['grads'] as Matrix;
    const run = runOnJacobian([pcgrad()], grads);
    expect(run.conflicts).toHaveLength(1);
    const conflict = run.conflicts[0]!;
    expect(conflict.plugin).toBe('pcgrad');
    expect(conflict.objectives).toEqual(['task0', 'task1']);
    expect(conflict.conflicts).toBe(1);
    assertAllClose(conflict.weights!, example.expected['weights'], { rtol: 1e-6 });
    expect(conflict.cosines[0]![1]!).toBeLessThan(0);
    expect(run.projections.map((projection) => [projection.objective, projection.onto])).toEqual([
      ['task0', 'task1'],
      ['task1', 'task0'],
    ]);
  });
});

describe('pcgrad on degenerate Jacobians', () => {
  const degenerate = regressionCase('B05').subcases!;
  for (const entry of degenerate) {
    const jacobian = fromSpec((entry['input'] as { J: Matrix }).J) as Matrix;
    const expected = entry['expected'] as Record<string, unknown>;
    const tolerance = (entry['tolerance'] as number | undefined) ?? 1e-4;
    const columns: Array<[string, () => ReturnType<typeof pcgrad>]> = [
      ['pcgrad(reduction=sum)', () => pcgrad({ reduction: 'sum' })],
      ['mean', () => mean()],
    ];
    for (const [column, create] of columns) {
      const value = expected[column] ?? expected['every aggregator'];
      if (value === undefined) {
        continue;
      }
      it(`${String(entry['name'])}: ${column}`, () => {
        const run = runOnJacobian([create()], jacobian);
        assertAllClose(run.output['w'], value, { atol: tolerance, rtol: 0, label: column });
      });
    }
    it(`${String(entry['name'])}: sum stays finite`, () => {
      const run = runOnJacobian([sum()], jacobian);
      expect(run.output['w']!.every((value) => Number.isFinite(value))).toBe(true);
    });
  }
});

describe('pcgrad variables', () => {
  it('projects shared variables and passes task-specific ones through', () => {
    const tasks = [
      { shared: [-4, 1, 1], left: [0.5, 2] },
      { shared: [6, 1, 1], right: [3] },
    ];
    const [run] = runAggregator([pcgrad()], tasks);
    const expected = referencePcgrad([tasks[0]!.shared, tasks[1]!.shared], defaultOrder(2));
    assertAllClose(run!.output['shared'], expected.combined, float32Tolerance());
    expect(run!.output['left']).toEqual([0.5, 2]);
    expect(run!.output['right']).toEqual([3]);
  });

  it('keeps task-specific variables unscaled under the mean', () => {
    const [run] = runAggregator([pcgrad({ reduction: 'mean' })], [
      { shared: [1, 0], left: [4] },
      { shared: [0, 1], right: [6] },
    ]);
    expect(run!.output['shared']).toEqual([0.5, 0.5]);
    expect(run!.output['left']).toEqual([4]);
    expect(run!.output['right']).toEqual([6]);
  });

  it('computes the Gramian across variables aligned by name', () => {
    // Split one vector over two variables, listed in different orders: the result must not change.
    const [split] = runAggregator([pcgrad()], [
      { a: [-4, 1], b: [1] },
      { b: [1], a: [6, 1] },
    ]);
    const whole = runOnJacobian([pcgrad()], [
      [-4, 1, 1],
      [6, 1, 1],
    ]);
    assertAllClose([...split!.output['a']!, ...split!.output['b']!], whole.output['w'], float32Tolerance());
  });

  it('restricts surgery to the variables option', () => {
    const tasks = [
      { 'shared/x': [-4, 1, 1], 'other/y': [1, -1] },
      { 'shared/x': [6, 1, 1], 'other/y': [-1, 1] },
    ];
    // The harness prefixes variable names, so the pattern allows any leading segments.
    const [run] = runAggregator([pcgrad({ variables: ['**/shared/**'] })], tasks);
    const expected = referencePcgrad([tasks[0]!['shared/x'], tasks[1]!['shared/x']], defaultOrder(2));
    assertAllClose(run!.output['shared/x'], expected.combined, float32Tolerance());
    expect(run!.output['other/y']).toEqual([0, 0]);
  });

  it('counts a variable reached by a subset of objectives as shared among them', () => {
    const tasks = [{ w: [1, 0], v: [1] }, { w: [-1, 1], v: [-2] }, { w: [0, 1] }];
    const order = defaultOrder(3);
    const [run] = runAggregator([pcgrad({ order })], tasks);
    // The missing v of task 2 is a zero partial derivative: the reference works on full vectors with a 0 there.
    const full = [
      [1, 0, 1],
      [-1, 1, -2],
      [0, 1, 0],
    ];
    const expected = referencePcgrad(full, order).combined;
    assertAllClose([...run!.output['w']!, ...run!.output['v']!], expected, float32Tolerance());
  });
});

describe('pcgrad options', () => {
  it('rejects an order that is not a permutation', () => {
    expect(() =>
      runOnJacobian([pcgrad({ order: [[1, 1], [0, 2], [0, 1]] })], [
        [1, 0],
        [0, 1],
        [1, 1],
      ]),
    ).toThrowError(expect.objectContaining({ plugin: 'pcgrad', path: '/order' }));
  });

  it('draws the same order for the same seed', () => {
    const jacobian = oracle('pcgrad-3task-order-asc').inputs['grads'] as Matrix;
    const first = runAggregator([pcgrad({ seed: 5 })], jacobian.map((row) => ({ w: row })), { steps: 6 });
    const second = runAggregator([pcgrad({ seed: 5 })], jacobian.map((row) => ({ w: row })), { steps: 6 });
    expect(second.map((run) => run.output['w'])).toEqual(first.map((run) => run.output['w']));
  });

  it('draws different orders across steps and seeds', () => {
    const jacobian = oracle('pcgrad-3task-order-asc').inputs['grads'] as Matrix;
    const outputs = new Set<string>();
    for (const seed of [1, 2, 3, 4]) {
      for (const run of runAggregator([pcgrad({ seed })], jacobian.map((row) => ({ w: row })), { steps: 4 })) {
        outputs.add(run.output['w']!.map((value) => value.toFixed(4)).join(','));
      }
    }
    expect(outputs.size).toBeGreaterThan(1);
  });
});

describe('pcgrad variable patterns', () => {
  it('warns once when no shared variable matches', () => {
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} };
    const tasks = [{ w: [1, 0] }, { w: [-1, 1] }];
    const runs = runAggregator([pcgrad({ variables: ['no_such_layer/**'] })], tasks, { steps: 2, logger });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('match none of the 1 shared variables');
    expect(runs[0]!.output['w']).toEqual([0, 1]);
  });
});
