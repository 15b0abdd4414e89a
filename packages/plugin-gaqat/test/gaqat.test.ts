import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { definePlugin, ErrorCode, Stage } from '@gradhooks/core';
import { conflictRate, countSignFlips, decideFreeze, gaqat, signFlipDisorder } from '@gradhooks/plugin-gaqat';
import { assertAllClose } from '@gradhooks/testing';

import { oracle } from '../../../test/helpers/specs.js';
import { disposeRun, recordingLogger, runFixedGradients } from './harness.js';
import type { StepGradients } from './harness.js';

const example = oracle('gaqat-provisional-disorder-freeze');
const params = example.params as { window: number; threshold: number; reading: 'sign-flips'; freeze: 'task' };
const taskWindow = example.inputs['g_task_window'] as Record<string, number[]>;
const smoothWindow = example.inputs['g_smooth_window'] as Record<string, number[]>;
const nextTask = example.inputs['next_g_task'] as Record<string, number>;
const nextSmooth = example.inputs['next_g_smooth'] as Record<string, number>;
const layers = Object.keys(taskWindow);
const expected = example.expected as Record<string, { disorder_task: number; flips: number; conflict_rate: number; frozen: boolean; next_step_scale_grad: number }>;

/** Scale variable name of an oracle layer. */
const scaleOf = (layer: string) => `${layer}/kernel_quant_scale`;

/** Builds the oracle's K steps plus the next one, with a non-scale variable that every step reaches. */
function oracleSchedule(): Array<Record<string, StepGradients>> {
  const schedule: Array<Record<string, StepGradients>> = [];
  for (let t = 0; t <= params.window; t++) {
    const task: StepGradients = { 'dense/kernel': [1, 2] };
    const smoothness: StepGradients = { 'dense/kernel': [0.5, 0.5] };
    for (const layer of layers) {
      task[scaleOf(layer)] = t < params.window ? taskWindow[layer]![t]! : nextTask[layer]!;
      smoothness[scaleOf(layer)] = t < params.window ? smoothWindow[layer]![t]! : nextSmooth[layer]!;
    }
    schedule.push({ task, smoothness });
  }
  return schedule;
}

const shapes = { 'dense/kernel': [2] };

describe('gaqat worked example gaqat-provisional-disorder-freeze', () => {
  for (const layer of layers) {
    it(`${layer}: disorder, flips, conflict rate and decision`, () => {
      const dots = taskWindow[layer]!.map((value, t) => value * smoothWindow[layer]![t]!);
      expect(countSignFlips(taskWindow[layer]!)).toBe(expected[layer]!.flips);
      expect(signFlipDisorder(taskWindow[layer]!)).toBeCloseTo(expected[layer]!.disorder_task, 12);
      expect(conflictRate(dots)).toBeCloseTo(expected[layer]!.conflict_rate, 12);
      const decision = decideFreeze({ task: taskWindow[layer]!, dots }, { reading: params.reading, threshold: params.threshold, freezeAllZero: false });
      expect(decision.frozen).toBe(expected[layer]!.frozen);
      expect(decision.disorder).toBeCloseTo(expected[layer]!.disorder_task, 12);
    });
  }

  it('plugin freezes layer2 for the next step', () => {
    const run = runFixedGradients([gaqat(params)], oracleSchedule(), { shapes });
    try {
      expect(run.results.every((result) => result.applied)).toBe(true);
      for (const layer of layers) {
        const next = run.steps[params.window]!.combined[scaleOf(layer)]!;
        assertAllClose(next, [expected[layer]!.next_step_scale_grad], { label: `${layer} next-step gradient` });
        const event = run.freezes.find((freeze) => freeze.layer === scaleOf(layer))!;
        expect(event.frozen).toBe(expected[layer]!.frozen);
        expect(event.disorder).toBeCloseTo(expected[layer]!.disorder_task, 6);
        expect(event.step).toBe(params.window - 1);
        expect(event.plugin).toBe('gaqat');
      }
      expect(run.freezes).toHaveLength(layers.length);
      // Nothing is frozen during the first window, and the non-scale variable is never touched.
      for (let t = 0; t < params.window; t++) {
        for (const layer of layers) {
          assertAllClose(run.steps[t]!.combined[scaleOf(layer)]!, [taskWindow[layer]![t]! + smoothWindow[layer]![t]!], { label: `${layer} step ${t}` });
        }
      }
      run.steps.forEach((step, t) => assertAllClose(step.combined['dense/kernel']!, [1.5, 2.5], { label: `dense step ${t}` }));
    } finally {
      disposeRun(run);
    }
  });

  it('conflict-rate reading reports the conflict rate', () => {
    const run = runFixedGradients([gaqat({ ...params, reading: 'conflict-rate' })], oracleSchedule(), { shapes });
    try {
      for (const layer of layers) {
        const event = run.freezes.find((freeze) => freeze.layer === scaleOf(layer))!;
        expect(event.disorder).toBeCloseTo(expected[layer]!.conflict_rate, 6);
        expect(event.frozen).toBe(expected[layer]!.conflict_rate < params.threshold);
      }
    } finally {
      disposeRun(run);
    }
  });

  it('freeze smoothness keeps only the task gradient', () => {
    const run = runFixedGradients([gaqat({ ...params, freeze: 'smoothness' })], oracleSchedule(), { shapes });
    try {
      assertAllClose(run.steps[params.window]!.combined[scaleOf('layer2')]!, [nextTask['layer2']!], { label: 'layer2' });
      assertAllClose(run.steps[params.window]!.combined[scaleOf('layer1')]!, [nextTask['layer1']! + nextSmooth['layer1']!], { label: 'layer1' });
    } finally {
      disposeRun(run);
    }
  });

  it('freeze both leaves the scale without a gradient', () => {
    const run = runFixedGradients([gaqat({ ...params, freeze: 'both' })], oracleSchedule(), { shapes });
    try {
      const last = run.steps[params.window]!;
      expect(last.combined[scaleOf('layer2')]).toBeNull();
      expect(scaleOf('layer2') in last.objectives['task']!).toBe(false);
      expect(scaleOf('layer2') in last.objectives['smoothness']!).toBe(false);
      expect(run.results[params.window]!.applied).toBe(true);
    } finally {
      disposeRun(run);
    }
  });
});

/** Builds a schedule of scalar task and smoothness gradients for one scale named `a/kernel_quant_scale`. */
function scalarSchedule(task: readonly number[], smoothness: readonly number[]): Array<Record<string, StepGradients>> {
  return task.map((value, t) => ({ task: { 'a/kernel_quant_scale': value }, smoothness: { 'a/kernel_quant_scale': smoothness[t]! } }));
}

describe('gaqat windows', () => {
  it('re-evaluates every window', () => {
    // Window 1 has no flip (frozen next), window 2 alternates (unfrozen next).
    const task = [1, 2, 1, -1, 3, 3];
    const smooth = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5 })], scalarSchedule(task, smooth));
    try {
      expect(run.freezes.map((event) => [event.step, event.disorder, event.frozen])).toEqual([
        [1, 0, true],
        [3, 1, false],
        [5, 0, true],
      ]);
      const combined = run.steps.map((step) => step.combined['a/kernel_quant_scale']![0]);
      expect(combined).toEqual([1.5, 2.5, 0.5, 0.5, 3.5, 3.5]);
    } finally {
      disposeRun(run);
    }
  });

  it('never freezes on an all-zero window by default', () => {
    const zeros = [0, 0, 0, 0];
    const smooth = [1, 1, 1, 1];
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5 })], scalarSchedule(zeros, smooth));
    const forced = runFixedGradients([gaqat({ window: 2, threshold: 0.5, freezeAllZero: true })], scalarSchedule(zeros, smooth));
    try {
      expect(run.freezes.map((event) => event.frozen)).toEqual([false, false]);
      expect(forced.freezes.map((event) => event.frozen)).toEqual([true, true]);
    } finally {
      disposeRun(run);
      disposeRun(forced);
    }
  });

  it('skips a window holding NaN', () => {
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5 })], scalarSchedule([Number.NaN, 1, 1, 1], [1, 1, 1, 1]), { session: { guard: false } });
    try {
      expect(run.freezes[0]!.frozen).toBe(false);
      expect(Number.isNaN(run.freezes[0]!.disorder)).toBe(true);
      expect(run.freezes[1]).toMatchObject({ disorder: 0, frozen: true });
    } finally {
      disposeRun(run);
    }
  });

  it('does not advance on a skipped step', () => {
    let calls = 0;
    const skipSecond = definePlugin({
      name: 'skip-second',
      description: 'skips the second step',
      options: { type: 'object', properties: {}, additionalProperties: false },
      stage: Stage.OBSERVE,
      create: () => ({ beforeApply: () => (++calls === 2 ? 'test skip' : undefined) }),
    })();
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5 }), skipSecond], scalarSchedule([1, -1, 1, 1], [1, 1, 1, 1]));
    try {
      expect(run.results.map((result) => result.applied)).toEqual([true, false, true, true]);
      // The window contains the applied steps 1, 1 (no flip), not 1, -1.
      expect(run.freezes).toHaveLength(1);
      expect(run.freezes[0]).toMatchObject({ disorder: 0, frozen: true, step: 1 });
    } finally {
      disposeRun(run);
    }
  });

  it('reads per-channel scales channel by channel', () => {
    const schedule = [
      { task: { 'c/kernel_quant_scale': [1, 1] }, smoothness: { 'c/kernel_quant_scale': [0.5, 0.5] } },
      { task: { 'c/kernel_quant_scale': [-1, 2] }, smoothness: { 'c/kernel_quant_scale': [0.5, 0.5] } },
      { task: { 'c/kernel_quant_scale': [3, 4] }, smoothness: { 'c/kernel_quant_scale': [0.25, 0.75] } },
    ];
    const shapes = { 'c/kernel_quant_scale': [2] };
    const each = runFixedGradients([gaqat({ window: 2, threshold: 0.5, channels: 'each' })], schedule, { shapes });
    const summed = runFixedGradients([gaqat({ window: 2, threshold: 0.5, channels: 'sum' })], schedule, { shapes });
    try {
      expect(each.freezes.map((event) => [event.layer, event.disorder, event.frozen])).toEqual([
        ['c/kernel_quant_scale[0]', 1, false],
        ['c/kernel_quant_scale[1]', 0, true],
      ]);
      assertAllClose(each.steps[2]!.combined['c/kernel_quant_scale']!, [3.25, 0.75], { label: 'channel 1 frozen' });
      // Summed: 2 then 1, no flip, so the whole scale is frozen.
      expect(summed.freezes.map((event) => [event.layer, event.frozen])).toEqual([['c/kernel_quant_scale', true]]);
      assertAllClose(summed.steps[2]!.combined['c/kernel_quant_scale']!, [0.25, 0.75], { label: 'whole scale frozen' });
    } finally {
      disposeRun(each);
      disposeRun(summed);
    }
  });

  it('dry run reports decisions and changes nothing', () => {
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5, dryRun: true })], scalarSchedule([1, 1, 1], [2, 2, 2]));
    try {
      expect(run.freezes.map((event) => event.frozen)).toEqual([true]);
      expect(run.steps[2]!.combined['a/kernel_quant_scale']).toEqual([3]);
    } finally {
      disposeRun(run);
    }
  });

  it('selects scales by pattern only', () => {
    const schedule = [1, 1, 1].map(() => ({ task: { 'x/kernel': 1, 'x/step': 1 }, smoothness: { 'x/kernel': 1, 'x/step': 1 } }));
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5, scales: ['**/step'] })], schedule);
    try {
      expect(run.freezes.map((event) => event.layer)).toEqual(['x/step']);
      expect(run.steps[2]!.combined).toEqual({ 'x/kernel': [2], 'x/step': [1] });
    } finally {
      disposeRun(run);
    }
  });
});

describe('gaqat options and objectives', () => {
  it('requires window and threshold', () => {
    expect(() => gaqat({ threshold: 0.5 } as never)).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/window' }));
    expect(() => gaqat({ window: 4 } as never)).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/threshold' }));
    expect(() => gaqat({ window: 1, threshold: 0.5 })).toThrowError(expect.objectContaining({ path: '/window' }));
    expect(() => gaqat({ window: 2.5, threshold: 0.5 })).toThrowError(expect.objectContaining({ path: '/window' }));
    expect(() => gaqat({ window: 2, threshold: 0.5, reading: 'flips' as never })).toThrowError(expect.objectContaining({ path: '/reading' }));
    expect(() => gaqat({ window: 2, threshold: 0.5, freeze: 'all' as never })).toThrowError(expect.objectContaining({ path: '/freeze' }));
  });

  it('rejects a non-finite threshold', () => {
    expect(() => runFixedGradients([gaqat({ window: 2, threshold: Number.NaN })], scalarSchedule([1], [1]))).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/threshold' }),
    );
  });

  it('needs the smoothness objective for conflict-rate', () => {
    const schedule = [{ task: { 'a/kernel_quant_scale': 1 } }];
    expect(() => runFixedGradients([gaqat({ window: 2, threshold: 0.5, reading: 'conflict-rate' })], schedule)).toThrowError(
      expect.objectContaining({ path: '/smoothness', fix: expect.stringContaining("'sharpness' plugin") }),
    );
  });

  it('warns once without a smoothness objective', () => {
    const logger = recordingLogger();
    const schedule = [1, 1, 1].map((value) => ({ task: { 'a/kernel_quant_scale': value } }));
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5 })], schedule, { logger });
    try {
      expect(logger.warnings.filter((message) => message.includes('smoothness'))).toHaveLength(1);
      expect(run.steps[2]!.combined['a/kernel_quant_scale']).toBeNull();
    } finally {
      disposeRun(run);
    }
  });

  it('needs the task option with several objectives', () => {
    const schedule = [{ left: { 'a/kernel_quant_scale': 1 }, right: { 'a/kernel_quant_scale': 1 }, smoothness: { 'a/kernel_quant_scale': 1 } }];
    expect(() => runFixedGradients([gaqat({ window: 2, threshold: 0.5 })], schedule)).toThrowError(expect.objectContaining({ path: '/task' }));
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5, task: 'left' })], schedule);
    try {
      expect(run.results[0]!.applied).toBe(true);
    } finally {
      disposeRun(run);
    }
    expect(() => runFixedGradients([gaqat({ window: 2, threshold: 0.5, task: 'center' })], schedule)).toThrowError(expect.objectContaining({ path: '/task' }));
  });
});

describe('gaqat state', () => {
  it('checkpoint round trip continues the window', async () => {
    const task = [1, 2, -1, 2, 2, -3];
    const smooth = task.map(() => 0.5);
    const whole = runFixedGradients([gaqat({ window: 3, threshold: 0.6 })], scalarSchedule(task, smooth));
    const first = runFixedGradients([gaqat({ window: 3, threshold: 0.6 })], scalarSchedule(task.slice(0, 4), smooth.slice(0, 4)));
    try {
      const checkpoint = JSON.parse(JSON.stringify(await first.optimizer.saveCheckpoint()));
      const resumed = runFixedGradients([gaqat({ window: 3, threshold: 0.6 })], []);
      await resumed.optimizer.loadCheckpoint(checkpoint);
      // Continue with the same variables as the first half, under the first half's names.
      const freezes: Array<[number, boolean]> = [];
      resumed.optimizer.telemetry.on('freeze', (event) => freezes.push([event.disorder, event.frozen]));
      for (let t = 4; t < task.length; t++) {
        const name = `${first.prefix}/a/kernel_quant_scale`;
        resumed.optimizer.step(
          {
            task: { gradients: () => ({ value: tf.scalar(0), grads: { [name]: tf.scalar(task[t]!) } }) },
            smoothness: { gradients: () => ({ value: tf.scalar(0), grads: { [name]: tf.scalar(smooth[t]!) } }) },
          },
          { variables: first.variables },
        );
      }
      const expectedGradients = whole.steps.slice(4).map((step) => step.combined['a/kernel_quant_scale']![0]);
      expect(resumed.steps.map((step) => Object.values(step.combined)[0]![0])).toEqual(expectedGradients);
      expect(freezes).toEqual(whole.freezes.slice(first.freezes.length).map((event) => [event.disorder, event.frozen]));
      expect(whole.freezes.length).toBeGreaterThan(first.freezes.length);
      disposeRun(resumed);
    } finally {
      disposeRun(whole);
      disposeRun(first);
    }
  });

  it('rejects a malformed saved state', async () => {
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.5 })], []);
    try {
      const checkpoint = await run.optimizer.saveCheckpoint();
      checkpoint.plugins[0]!.state = { format: 'something else' };
      await expect(run.optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: ErrorCode.ERR_PLUGIN_STATE_INVALID });
    } finally {
      disposeRun(run);
    }
  });

  it('keeps the tensor count steady and frees everything', () => {
    const start = tf.memory().numTensors;
    const task = Array.from({ length: 8 }, (_, t) => (t % 3 === 0 ? -1 : 1));
    const counts: number[] = [];
    const run = runFixedGradients([gaqat({ window: 2, threshold: 0.8, channels: 'each' })], []);
    const name = `${run.prefix}/a/kernel_quant_scale`;
    const variable = tf.tidy(() => tf.variable(tf.zeros([2]), true, name));
    for (const value of task) {
      run.optimizer.step(
        {
          task: { gradients: () => ({ value: tf.scalar(0), grads: { [name]: tf.tensor1d([value, 1]) } }) },
          smoothness: { gradients: () => ({ value: tf.scalar(0), grads: { [name]: tf.tensor1d([1, 1]) } }) },
        },
        { variables: [variable] },
      );
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts.slice(1)).size).toBe(1);
    disposeRun(run);
    variable.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });
});
