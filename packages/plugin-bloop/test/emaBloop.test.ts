import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { resolveConfig } from '@gradhooks/config';
import { definePlugin, ErrorCode, HookedOptimizer, Stage } from '@gradhooks/core';
import { bloopDirection, emaBloop } from '@gradhooks/plugin-bloop';
import type { BloopVariant } from '@gradhooks/plugin-bloop';
import { assertAllClose, assertSteadyTensorCount } from '@gradhooks/testing';

import { float32Tolerance, oraclesWithPrefix, subcase } from '../../../test/helpers/specs.js';
import type { Oracle } from '../../../test/helpers/specs.js';
import { readEmas, referenceBloop, runSteps, stateValues } from './harness.js';

type Vector = number[];

function settingsOf(example: Oracle) {
  return {
    ema: example.params['ema'] as number,
    lambda: example.params['lambda'] as number,
    eps: example.params['eps'] as number,
    variant: ((example.params['variant'] as string | undefined) ?? 'bloop') as BloopVariant,
  };
}

/**
 * The plugin starts its EMA from `init`, not from an arbitrary vector: returns
 * the init that reproduces the example's starting EMA.
 */
function initFor(example: Oracle): 'grad' | 'zeros' {
  const ema0 = example.inputs['ema0'] as Vector;
  const firstMain = (example.inputs['g_main'] as Vector[])[0]!;
  if (ema0.every((value, i) => value === firstMain[i])) {
    return 'grad';
  }
  if (ema0.every((value) => value === 0)) {
    return 'zeros';
  }
  if (example.params['ema'] === 1) {
    // With ema 1 the EMA is the current main gradient whatever it started from.
    return 'grad';
  }
  throw new Error(`${example.id}: no init reproduces ema0 ${JSON.stringify(ema0)}`);
}

describe('ema-bloop worked examples', () => {
  for (const example of oraclesWithPrefix('bloop-')) {
    const mains = example.inputs['g_main'] as Vector[];
    const auxiliaries = example.inputs['g_aux'] as Vector[];
    const expected = example.expected;

    it(`${example.id}: bloopDirection step by step`, () => {
      const start = tf.memory().numTensors;
      tf.tidy(() => {
        let ema: tf.Tensor[] = [tf.tensor1d(example.inputs['ema0'] as Vector)];
        mains.forEach((main, t) => {
          const result = bloopDirection({ main: [tf.tensor1d(main)], auxiliary: [tf.tensor1d(auxiliaries[t]!)], mainEma: ema }, settingsOf(example));
          assertAllClose(result.direction[0]!, (expected['direction'] as Vector[])[t], { ...float32Tolerance(), label: `direction ${t}` });
          assertAllClose(result.ratio, (expected['ratio'] as number[])[t], { ...float32Tolerance(), label: `ratio ${t}` });
          if (expected['ema_after'] !== undefined) {
            assertAllClose(result.mainEma[0]!, (expected['ema_after'] as Vector[])[t], { ...float32Tolerance(), label: `ema ${t}` });
          }
          expect(result.finite.dataSync()[0]).toBe(1);
          ema = result.mainEma;
        });
      });
      expect(tf.memory().numTensors).toBe(start);
    });

    it(`${example.id}: plugin update, EMA and ratio`, async () => {
      const runs = await runSteps(
        [emaBloop({ main: 'main', auxiliary: 'aux', init: initFor(example), ...settingsOf(example) })],
        mains.map((main, t) => ({ main: { w: main }, aux: { w: auxiliaries[t]! } })),
      );
      runs.forEach((run, t) => {
        assertAllClose(run.output['w'], (expected['direction'] as Vector[])[t], { ...float32Tolerance(), label: `direction ${t}` });
        assertAllClose(stateValues(run)['ratio'], (expected['ratio'] as number[])[t], { ...float32Tolerance(), label: `ratio ${t}` });
        if (expected['ema_after'] !== undefined) {
          assertAllClose(run.emas['main']!['w'], (expected['ema_after'] as Vector[])[t], { ...float32Tolerance(), label: `ema ${t}` });
        }
      });
    });
  }

  it('B13: first step starts from the gradient', async () => {
    const entry = subcase('B13', 'Bloop first step');
    const input = entry['input'] as { main_grad: { w: Vector }; aux_grad: { w: Vector }; lambda: number; init: 'grad' };
    const expected = entry['expected'] as { main_ema_after_step1: { w: Vector }; update: { w: Vector } };
    const tolerance = { rtol: entry['rtol'] as number, atol: entry['atol'] as number };
    const [run] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', lambda: input.lambda, init: input.init })], [
      { main: input.main_grad, aux: input.aux_grad },
    ]);
    assertAllClose(run!.emas['main']!['w'], expected.main_ema_after_step1.w, { ...tolerance, label: 'EMA' });
    assertAllClose(run!.output['w'], expected.update.w, { ...tolerance, label: 'update' });
    expect(run!.output['w']!.every(Number.isFinite)).toBe(true);
  });
});

describe('ema-bloop variables', () => {
  const steps = [
    { main: { shared: [1, -2, 0.5], mainHead: [3, 1], empty: null }, aux: { shared: [-1, 1, 2], auxHead: [0.5], empty: null } },
    { main: { shared: [0.5, -1, 1], mainHead: [1, 1], empty: null }, aux: { shared: [2, 1, -1], auxHead: [-2], empty: null } },
  ];
  const settings = { ema: 0.1, lambda: 0.1, eps: 1e-7, variant: 'bloop', init: 'grad' } as const;

  it('projects shared variables only', async () => {
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], steps);
    const expected = referenceBloop(steps.map((step) => ({ main: step.main.shared, auxiliary: step.aux.shared })), settings);
    runs.forEach((run, t) => {
      assertAllClose(run.output['shared'], expected[t]!.direction, { ...float32Tolerance(), label: `shared ${t}` });
      expect(run.output['mainHead']).toEqual(steps[t]!.main.mainHead);
      assertAllClose(run.output['auxHead'], steps[t]!.aux.auxHead.map((value) => value * 0.1), float32Tolerance());
      expect(run.output['empty']).toBeNull();
    });
    expect(Object.keys(runs[1]!.emas['main']!)).toEqual(['shared']);
  });

  it('replaces both objectives by main', async () => {
    const [run] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], [steps[0]!]);
    expect(run!.objectives).toEqual(['main']);
    // Variables in step order: the order in which the harness first met them.
    expect(run!.keys['main']).toEqual(['shared', 'mainHead', 'empty', 'auxHead']);
  });

  it('passes other objectives through', async () => {
    const [run] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], [{ ...steps[0]!, other: { shared: [1, 1, 1] } }]);
    const [expected] = referenceBloop([{ main: steps[0]!.main.shared, auxiliary: steps[0]!.aux.shared }], settings);
    expect(run!.objectives).toEqual(['main', 'other']);
    assertAllClose(run!.output['shared'], expected!.direction.map((value) => value + 1), float32Tolerance());
  });

  it('mixes excluded shared variables without projection', async () => {
    const [run] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', variables: ['**/mainHead', '**/auxHead'] })], [steps[0]!]);
    assertAllClose(run!.output['shared'], steps[0]!.main.shared.map((value, i) => value + 0.1 * steps[0]!.aux.shared[i]!), float32Tolerance());
    expect(run!.emas['main']).toEqual({});
    expect(run!.states).toEqual([]);
  });

  it('projects each variable alone per variable', async () => {
    const split = [
      { main: { a: [1, -2], b: [0.5] }, aux: { a: [-1, 1], b: [2] } },
      { main: { a: [0.5, -1], b: [1] }, aux: { a: [2, 1], b: [-1] } },
    ];
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', scope: 'per-variable' })], split);
    for (const name of ['a', 'b'] as const) {
      const expected = referenceBloop(split.map((step) => ({ main: step.main[name], auxiliary: step.aux[name] })), settings);
      runs.forEach((run, t) => assertAllClose(run.output[name], expected[t]!.direction, { ...float32Tolerance(), label: `${name} ${t}` }));
    }
  });

  it('projects across variables globally', async () => {
    const split = [
      { main: { a: [1, -2], b: [0.5] }, aux: { a: [-1, 1], b: [2] } },
      { main: { a: [0.5, -1], b: [1] }, aux: { a: [2, 1], b: [-1] } },
    ];
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], split);
    const expected = referenceBloop(split.map((step) => ({ main: [...step.main.a, ...step.main.b], auxiliary: [...step.aux.a, ...step.aux.b] })), settings);
    runs.forEach((run, t) => assertAllClose([...run.output['a']!, ...run.output['b']!], expected[t]!.direction, { ...float32Tolerance(), label: `step ${t}` }));
  });
});

describe('ema-bloop variants', () => {
  const sequence = [
    { main: [1, 0.5, -1], auxiliary: [-2, 1, 0.5] },
    { main: [0.5, 1, -0.5], auxiliary: [1, -3, 2] },
    { main: [-1, 2, 0.5], auxiliary: [0.5, 0.5, -4] },
    { main: [2, -1, 1], auxiliary: [-1, -1, -1] },
  ];

  for (const variant of ['bloop', 'dynamic-barrier', 'ema-pcgrad'] as const) {
    for (const init of ['grad', 'zeros'] as const) {
      it(`${variant} with init ${init} matches float64`, async () => {
        const settings = { ema: 0.3, lambda: 0.5, eps: 1e-7, variant, init };
        const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', ...settings })], sequence.map((step) => ({ main: { w: step.main }, aux: { w: step.auxiliary } })));
        const expected = referenceBloop(sequence, settings);
        runs.forEach((run, t) => {
          assertAllClose(run.output['w'], expected[t]!.direction, { ...float32Tolerance(), label: `direction ${t}` });
          assertAllClose(run.emas['main']!['w'], expected[t]!.mainEma, { ...float32Tolerance(), label: `main EMA ${t}` });
          if (variant === 'ema-pcgrad') {
            assertAllClose(run.emas['auxiliary']!['w'], expected[t]!.auxiliaryEma, { ...float32Tolerance(), label: `auxiliary EMA ${t}` });
          } else {
            expect(run.emas['auxiliary']).toEqual({});
          }
        });
      });
    }
  }

  it('caps the ratio with the barrier', async () => {
    const steps = [{ main: { w: [1, 0] }, aux: { w: [50, 1] } }];
    const [capped] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', variant: 'dynamic-barrier', lambda: 0.25 })], steps);
    const [free] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', lambda: 0.25 })], steps);
    expect(stateValues(capped!)['ratio']).toBe(4);
    expect(stateValues(free!)['ratio'] as number).toBeGreaterThan(4);
  });
});

describe('ema-bloop state', () => {
  const steps = [
    { main: { w: [1, 2] }, aux: { w: [-1, 1] } },
    { main: { w: [2, -1] }, aux: { w: [1, 1] } },
    { main: { w: [0.5, 0.5] }, aux: { w: [-2, 1] } },
  ];

  /** Skips the step on the calls listed. */
  const skipOn = (calls: number[]) =>
    definePlugin({
      name: 'skipper',
      description: 'skips chosen steps',
      options: { type: 'object', properties: {}, additionalProperties: false },
      create: () => ({ beforeApply: (_gradients, step) => (calls.includes(step.call) ? 'test skip' : undefined) }),
    })();

  it('keeps the EMA on a skipped step', async () => {
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], steps, { after: [skipOn([2])] });
    expect(runs.map((run) => run.applied)).toEqual([true, false, true]);
    expect(runs[1]!.emas).toEqual(runs[0]!.emas);
    const [withoutSkipped] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], [steps[0]!, steps[2]!]).then((runs) => runs.slice(1));
    expect(runs[2]!.emas).toEqual(withoutSkipped!.emas);
    expect(runs[2]!.output).toEqual(withoutSkipped!.output);
  });

  it('starts from the first applied step', async () => {
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], steps, { after: [skipOn([1])] });
    expect(runs[0]!.emas['main']).toEqual({});
    expect(runs[1]!.emas['main']!['w']).toEqual(steps[1]!.main.w);
  });

  it('advances once per optimizer step', async () => {
    // Stands in for gradient accumulation: a tap before Bloop that lets every second call through.
    const everySecondCall = definePlugin({
      name: 'window',
      description: 'skips odd calls before the ALIGN stage',
      options: { type: 'object', properties: {}, additionalProperties: false },
      stage: Stage.ACCUMULATE,
      create: () => ({ objectiveGradients: (gradients, step) => (step.call % 2 === 1 ? step.skip('window not complete') : gradients) }),
    })();
    const doubled = steps.flatMap((step) => [step, step]);
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' }), everySecondCall], doubled);
    const direct = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], steps);
    expect(runs.map((run) => run.applied)).toEqual([false, true, false, true, false, true]);
    direct.forEach((run, t) => expect(runs[2 * t + 1]!.emas).toEqual(run.emas));
  });

  it('never takes a non-finite main gradient', async () => {
    const poisoned = [steps[0]!, { main: { w: [Number.NaN, 1] }, aux: { w: [1, 1] } }, steps[2]!];
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], poisoned, { session: { guard: false, telemetry: { every: 1 } } });
    expect(runs[1]!.applied).toBe(true);
    expect(stateValues(runs[1]!)['emaAdvanced']).toBe(false);
    expect(runs[1]!.emas).toEqual(runs[0]!.emas);
    expect(stateValues(runs[2]!)['emaAdvanced']).toBe(true);
    expect(runs[2]!.emas['main']!['w']!.every(Number.isFinite)).toBe(true);
  });

  it('rolls back when core refuses the step', async () => {
    const prefix = 'bloopguard';
    const w = tf.tidy(() => tf.variable(tf.zeros([2]), true, `${prefix}/w`));
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [emaBloop({ main: 'main', auxiliary: 'aux' })] });
    const gradients = (values: number[]) => ({ gradients: () => ({ value: tf.scalar(0), grads: { [w.name]: tf.tensor1d(values) } }) });
    optimizer.step({ main: gradients([1, 2]), aux: gradients([-1, 1]) }, { variables: [w] });
    const before = await readEmas(optimizer);
    expect(() => optimizer.step({ main: gradients([1, 2]), aux: gradients([Number.POSITIVE_INFINITY, 1]) }, { variables: [w] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_NONFINITE }),
    );
    expect(await readEmas(optimizer)).toEqual(before);
    expect(optimizer.session.stepCount).toBe(1);
    optimizer.dispose();
    w.dispose();
  });

  it('advances the EMA in a dry run', async () => {
    const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', dryRun: true })], steps);
    const reference = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], steps);
    runs.forEach((run, t) => {
      expect(run.objectives).toEqual(['main', 'aux']);
      assertAllClose(run.output['w'], steps[t]!.main.w.map((value, i) => value + steps[t]!.aux.w[i]!), { rtol: 0, atol: 0 });
      expect(run.emas).toEqual(reference[t]!.emas);
    });
  });

  it('rejects a state of another format', async () => {
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [emaBloop({ main: 'main', auxiliary: 'aux' })] });
    const checkpoint = await optimizer.saveCheckpoint({ optimizer: false });
    checkpoint.plugins[0]!.state = { format: 'something', version: 1 };
    await expect(optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: ErrorCode.ERR_PLUGIN_STATE_INVALID, plugin: 'ema-bloop' });
    optimizer.dispose();
  });
});

describe('ema-bloop options and roles', () => {
  it('rejects one objective in both roles', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(0.1), { plugins: [emaBloop({ main: 'left', auxiliary: 'left' })] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, plugin: 'ema-bloop', path: '/auxiliary' }),
    );
  });

  it('rejects an undeclared objective', () => {
    expect(
      () => new HookedOptimizer(tf.train.sgd(0.1), { objectives: ['left', 'right'], plugins: [emaBloop({ main: 'left', auxiliary: 'rigth' })] }),
    ).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/auxiliary', received: 'rigth' }));
  });

  it('names the missing objective at step time', async () => {
    await expect(runSteps([emaBloop({ main: 'main', auxiliary: 'aux' })], [{ main: { w: [1] }, other: { w: [2] } }])).rejects.toMatchObject({
      code: ErrorCode.ERR_OPTIONS_INVALID,
      plugin: 'ema-bloop',
      path: '/auxiliary',
      message: expect.stringContaining('[main, other]'),
    });
  });

  it('rejects out-of-range options', () => {
    for (const options of [{ lambda: -1 }, { ema: 1.5 }, { eps: 0 }, { init: 'random' }, { variant: 'mixed' }, { scope: 'layer' }]) {
      expect(() => emaBloop({ main: 'a', auxiliary: 'b', ...(options as object) })).toThrowError(
        expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, plugin: 'ema-bloop' }),
      );
    }
    expect(() => emaBloop({ auxiliary: 'b' } as never)).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID }));
  });

  it('lists its resolved defaults', () => {
    const spec = emaBloop({ main: 'a', auxiliary: 'b' });
    expect(spec.options).toMatchObject({ lambda: 0.1, ema: 0.1, eps: 1e-7, init: 'grad', scope: 'global', variant: 'bloop' });
  });

  it('passes a flush step through', () => {
    const w = tf.tidy(() => tf.variable(tf.zeros([2]), true, 'bloopflush/w'));
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [emaBloop({ main: 'main', auxiliary: 'aux' })] });
    const result = optimizer.flush({ variables: [w] });
    expect(result.applied).toBe(false);
    expect(result.skippedBy).toBeUndefined();
    optimizer.dispose();
    w.dispose();
  });

  it('loads from a config with checked names', async () => {
    const config = await resolveConfig({
      objectives: { left: {}, right: {} },
      plugins: [{ use: 'ema-bloop', options: { main: 'left', auxiliary: 'right', lambda: 0.5 } }],
    });
    expect(config.plugins[0]!.definition.name).toBe('ema-bloop');
    expect(config.plugins[0]!.options).toMatchObject({ main: 'left', auxiliary: 'right', lambda: 0.5 });
    await expect(
      resolveConfig({ objectives: { left: {}, right: {} }, plugins: [{ use: 'ema-bloop', options: { main: 'left', auxiliary: 'rigth' } }] }),
    ).rejects.toMatchObject({ path: '/plugins/0/options/auxiliary', received: 'rigth' });
  });
});

describe('ema-bloop memory', () => {
  for (const variant of ['bloop', 'dynamic-barrier', 'ema-pcgrad'] as const) {
    for (const scope of ['global', 'per-variable'] as const) {
      it(`${variant} ${scope} keeps tensors steady`, async () => {
        const steps = Array.from({ length: 6 }, (_, t) => ({
          main: { a: [1 + t, -2], b: [0.5], head: [t] },
          aux: { a: [-1, 1 - t], b: [2 - t], auxHead: [1, 2] },
        }));
        const runs = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', variant, scope })], steps);
        assertSteadyTensorCount(runs.map((run) => run.tensors));
      });
    }
  }
});

describe('ema-bloop telemetry', () => {
  it('reports norms, ratio and cosine', async () => {
    const main = [3, 0, 4];
    const auxiliary = [0, 2, 0];
    const [run] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', lambda: 1 })], [{ main: { w: main }, aux: { w: auxiliary } }]);
    const values = stateValues(run!);
    expect(values['mainNorm']).toBeCloseTo(5, 6);
    expect(values['auxiliaryNorm']).toBeCloseTo(2, 6);
    expect(values['emaNorm']).toBeCloseTo(5, 6);
    expect(values['ratio']).toBe(0);
    expect(values['cosine']).toBe(0);
    expect(values['updateNorm']).toBeCloseTo(Math.sqrt(29), 5);
    expect(values['emaAdvanced']).toBe(true);
  });

  it('reports each variable per variable', async () => {
    const [run] = await runSteps([emaBloop({ main: 'main', auxiliary: 'aux', scope: 'per-variable' })], [
      { main: { a: [1, 0], b: [2] }, aux: { a: [-1, 0], b: [1] } },
    ]);
    const values = stateValues(run!);
    expect(values['cosine:a']).toBeCloseTo(-1, 6);
    expect(values['cosine:b']).toBeCloseTo(1, 6);
    expect(values['ratio:a']).toBeCloseTo(-1, 5);
    expect(values['ratio:b']).toBeCloseTo(0.5, 5);
  });
});
