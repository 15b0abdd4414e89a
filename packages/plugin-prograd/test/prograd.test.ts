import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { resolveConfig } from '@gradhooks/config';
import { ErrorCode, HookedOptimizer } from '@gradhooks/core';
import { prograd, progradDirection } from '@gradhooks/plugin-prograd';
import { assertAllClose, assertSteadyTensorCount, flatten, fromSpec } from '@gradhooks/testing';

import { float32Tolerance, oraclesWithPrefix } from '../../../test/helpers/specs.js';
import { referenceProgradVector, runSteps, stateValues } from './harness.js';

type Nested = number | Nested[];

/** The projection examples (the loss examples share the prefix but have no g_ce). */
const projectionExamples = oraclesWithPrefix('prograd-').filter((example) => example.inputs['g_ce'] !== undefined);

describe('prograd worked examples', () => {
  it('covers every projection example', () => {
    expect(projectionExamples.map((example) => example.id)).toEqual([
      'prograd-conflict-lambda1.0',
      'prograd-no-conflict',
      'prograd-matrix-tensor',
      'prograd-edge-zero-kl',
      'prograd-edge-orthogonal',
    ]);
  });

  for (const example of projectionExamples) {
    const task = example.inputs['g_ce'] as Nested;
    const general = example.inputs['g_kl'] as Nested;
    const lambda = example.params['lambda'] as number;

    it(`${example.id}: progradDirection`, () => {
      const start = tf.memory().numTensors;
      tf.tidy(() => {
        const result = progradDirection([tf.tensor(task as number[])], [tf.tensor(general as number[])], lambda);
        assertAllClose(result.projected[0]!, example.expected['grad'], { ...float32Tolerance(), label: 'grad' });
        const conflict = result.conflict.dataSync()[0] === 1;
        expect(conflict).toBe((fromSpec(example.expected['cos']) as number) < 0);
      });
      expect(tf.memory().numTensors).toBe(start);
    });

    it(`${example.id}: plugin update and cosine`, () => {
      const [run] = runSteps([prograd({ task: 'task', general: 'general', lambda })], [{ task: { w: task }, general: { w: general } }]);
      assertAllClose(run!.output['w'], flatten(example.expected['grad']), { ...float32Tolerance(), label: 'grad' });
      const expectedCosine = fromSpec(example.expected['cos']) as number;
      // The reference's cosine is NaN for a zero gradient; the library defines a cosine involving a zero vector as 0.
      assertAllClose(stateValues(run!)['cosine:w'], Number.isNaN(expectedCosine) ? 0 : expectedCosine, { ...float32Tolerance(), label: 'cosine' });
      expect(stateValues(run!)['projected:w']).toBe(expectedCosine < 0);
    });
  }
});

describe('prograd variables', () => {
  const step = {
    task: { shared: [1, 2, -1], taskHead: [3], empty: null, other: [1, -1] },
    general: { shared: [-2, -1, 1], generalHead: [5], empty: null, other: [-1, 1] },
  };

  it('projects shared and drops general', () => {
    const [run] = runSteps([prograd({ task: 'task', general: 'general' })], [step]);
    assertAllClose(run!.output['shared'], referenceProgradVector(step.task.shared, step.general.shared, 1), float32Tolerance());
    assertAllClose(run!.output['other'], referenceProgradVector(step.task.other, step.general.other, 1), float32Tolerance());
    expect(run!.output['taskHead']).toEqual([3]);
    expect(run!.output['generalHead']).toBeNull();
    expect(run!.output['empty']).toBeNull();
    expect(run!.objectives).toEqual(['task']);
    expect(run!.keys['task']).toEqual(['shared', 'taskHead', 'empty', 'other']);
  });

  it('leaves excluded variables unchanged', () => {
    const [run] = runSteps([prograd({ task: 'task', general: 'general', variables: ['!**/other'] })], [step]);
    expect(run!.output['other']).toEqual(step.task.other);
    assertAllClose(run!.output['shared'], referenceProgradVector(step.task.shared, step.general.shared, 1), float32Tolerance());
  });

  it('passes other objectives through', () => {
    const [run] = runSteps([prograd({ task: 'task', general: 'general' })], [{ ...step, extra: { shared: [1, 1, 1] } }]);
    expect(run!.objectives).toEqual(['task', 'extra']);
    assertAllClose(
      run!.output['shared'],
      referenceProgradVector(step.task.shared, step.general.shared, 1).map((value) => value + 1),
      float32Tolerance(),
    );
  });

  it('decides each variable alone by default', () => {
    // a conflicts on its own, b does not; together they do not conflict.
    const split = { task: { a: [1, 0], b: [0, 3] }, general: { a: [-1, 1], b: [0, 2] } };
    const [perVariable] = runSteps([prograd({ task: 'task', general: 'general' })], [split]);
    assertAllClose(perVariable!.output['a'], referenceProgradVector([1, 0], [-1, 1], 1), float32Tolerance());
    expect(perVariable!.output['b']).toEqual([0, 3]);
    expect(stateValues(perVariable!)['projectedVariables']).toBe(1);
    const [global] = runSteps([prograd({ task: 'task', general: 'general', scope: 'global' })], [split]);
    expect(global!.output['a']).toEqual([1, 0]);
    expect(global!.output['b']).toEqual([0, 3]);
    expect(stateValues(global!)['projected']).toBe(false);
  });

  it('projects across variables globally', () => {
    const split = { task: { a: [1, 2], b: [-1] }, general: { a: [-2, -1], b: [1] } };
    const [run] = runSteps([prograd({ task: 'task', general: 'general', scope: 'global', lambda: 0.8 })], [split]);
    const expected = referenceProgradVector([1, 2, -1], [-2, -1, 1], 0.8);
    assertAllClose([...run!.output['a']!, ...run!.output['b']!], expected, float32Tolerance());
  });

  it('keeps tensors steady over steps', () => {
    for (const scope of ['per-variable', 'global'] as const) {
      const runs = runSteps(
        [prograd({ task: 'task', general: 'general', scope })],
        Array.from({ length: 6 }, (_, t) => ({
          task: { shared: [1, 2 - t, -1], taskHead: [t] },
          general: { shared: [-2, -1, 1 + t], generalHead: [1] },
        })),
      );
      assertSteadyTensorCount(runs.map((run) => run.tensors));
    }
  });
});

describe('prograd options and roles', () => {
  it('rejects one objective in both roles', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(0.1), { plugins: [prograd({ task: 'ce', general: 'ce' })] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, plugin: 'prograd', path: '/general' }),
    );
  });

  it('rejects an undeclared objective', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(0.1), { objectives: ['ce', 'kl'], plugins: [prograd({ task: 'cross', general: 'kl' })] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/task', received: 'cross' }),
    );
  });

  it('names the missing objective at step time', () => {
    expect(() => runSteps([prograd({ task: 'task', general: 'general' })], [{ task: { w: [1] } }])).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, plugin: 'prograd', path: '/general', message: expect.stringContaining('[task]') }),
    );
  });

  it('rejects out-of-range options', () => {
    for (const options of [{ lambda: -0.5 }, { scope: 'layer' }, { temperature: 2 }]) {
      expect(() => prograd({ task: 'a', general: 'b', ...(options as object) })).toThrowError(
        expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, plugin: 'prograd' }),
      );
    }
  });

  it('lists its resolved defaults', () => {
    expect(prograd({ task: 'a', general: 'b' }).options).toMatchObject({ lambda: 1, scope: 'per-variable', variables: ['**'], dryRun: false });
  });

  it('passes a flush step through', () => {
    const w = tf.tidy(() => tf.variable(tf.zeros([2]), true, 'progradflush/w'));
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [prograd({ task: 'task', general: 'general' })] });
    const result = optimizer.flush({ variables: [w] });
    expect(result.applied).toBe(false);
    expect(result.skippedBy).toBeUndefined();
    optimizer.dispose();
    w.dispose();
  });

  it('loads from a config with checked names', async () => {
    const config = await resolveConfig({
      objectives: { ce: {}, kl: {} },
      plugins: [{ use: 'prograd', options: { task: 'ce', general: 'kl', lambda: 0.8 } }],
    });
    expect(config.plugins[0]!.options).toMatchObject({ task: 'ce', general: 'kl', lambda: 0.8 });
    await expect(resolveConfig({ objectives: { ce: {}, kl: {} }, plugins: [{ use: 'prograd', options: { task: 'ce', general: 'kld' } }] })).rejects.toMatchObject({
      path: '/plugins/0/options/general',
      received: 'kld',
    });
  });
});

describe('prograd telemetry', () => {
  it('reports norms and projections', () => {
    const [run] = runSteps([prograd({ task: 'task', general: 'general' })], [{ task: { a: [3, 4], b: [1] }, general: { a: [-3, -4], b: [2] } }]);
    const values = stateValues(run!);
    expect(values['cosine:a']).toBeCloseTo(-1, 6);
    expect(values['cosine:b']).toBeCloseTo(1, 6);
    expect(values['projected:a']).toBe(true);
    expect(values['projected:b']).toBe(false);
    expect(values['coefficient:a']).toBeCloseTo(-1, 6);
    expect(values['projectedVariables']).toBe(1);
    expect(values['sharedVariables']).toBe(2);
    expect(values['taskNorm']).toBeCloseTo(Math.sqrt(26), 5);
    expect(values['generalNorm']).toBeCloseTo(Math.sqrt(29), 5);
  });
});
