import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode } from '@gradhooks/core';
import type { SessionCheckpoint } from '@gradhooks/core';
import { accumulate, nonfinite } from '@gradhooks/plugin-clip';
import type { NonfiniteState } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

import { oracle, regressionCase } from '../../../test/helpers/specs.js';
import { collect, gradientFeeder } from './helpers.js';

async function guardState(checkpoint: Promise<SessionCheckpoint> | SessionCheckpoint): Promise<NonfiniteState> {
  return (await checkpoint).plugins.find((plugin) => plugin.name === 'nonfinite')!.state as unknown as NonfiniteState;
}

const FINITE = { w: [0.5, 0.5] };
const NOT_FINITE = { w: ['NaN', 1] };

describe('nonfinite regression cases', () => {
  it('B11 skips, counts the streak and resets it on the limit', async () => {
    const entry = regressionCase('B11').subcases![0]!;
    const input = entry['input'] as { lr: number; w0: { w: number[] }; maxConsecutiveSkips: number; onLimit: 'event'; grads: Array<{ w: unknown[] }> };
    const expected = entry['expected'] as {
      weights_after_each: number[][];
      applied: boolean[];
      streak_after_each: Array<number | string>;
      total_nonfinite_after_each: number[];
      give_up_event_at_step: number;
      optimizer_iterations_after_all: number;
    };
    const feeder = gradientFeeder([nonfinite({ policy: 'skip', maxConsecutiveSkips: input.maxConsecutiveSkips, onLimit: input.onLimit })], input.w0, {
      inner: tf.train.sgd(input.lr),
    });
    const states = collect(feeder.optimizer, 'state');
    const skips = collect(feeder.optimizer, 'skip');

    for (const [i, grads] of input.grads.entries()) {
      const result = feeder.step(grads);
      expect(result.applied).toBe(expected.applied[i]);
      assertAllClose(feeder.values()['w'], expected.weights_after_each[i], { atol: entry['atol'] as number, rtol: entry['rtol'] as number, label: `weights after step ${i + 1}` });
      const state = await guardState(feeder.optimizer.saveCheckpoint());
      expect(state.streak).toBe(typeof expected.streak_after_each[i] === 'number' ? expected.streak_after_each[i] : 0);
      expect(state.nonFiniteSteps).toBe(expected.total_nonfinite_after_each[i]);
    }

    const limitEvents = states.filter((event) => event.values['limitReached'] === true);
    expect(limitEvents).toHaveLength(1);
    expect(skips.filter((event) => event.plugin === 'nonfinite')).toHaveLength(3);
    // Steps are counted from 1 and step 1 was applied, so step k made skip event k - 1 (index k - 2).
    expect(skips[expected.give_up_event_at_step - 2]!.reason).toContain('exceeded');
    expect(skips[expected.give_up_event_at_step - 3]!.reason).not.toContain('exceeded');
    expect(feeder.optimizer.iterations).toBe(expected.optimizer_iterations_after_all);
    feeder.dispose();
  });

  it('B11 onLimit raise throws at the give-up step', () => {
    const feeder = gradientFeeder([nonfinite({ maxConsecutiveSkips: 2 })], { w: [1, 1] }, { inner: tf.train.sgd(0.1) });
    feeder.step(FINITE);
    feeder.step(NOT_FINITE);
    feeder.step(NOT_FINITE);
    expect(() => feeder.step(NOT_FINITE)).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_NONFINITE, plugin: 'nonfinite' }));
    assertAllClose(feeder.values()['w'], [0.95, 0.95]);
    feeder.dispose();
  });

  it('B12 state keeps integers and booleans through JSON', async () => {
    const entry = regressionCase('B12').subcases![0]!;
    const config = entry['config'] as { plugins: Array<{ use: string; options: Record<string, unknown> }> };
    const micro = (entry['input'] as { micro: Array<Record<string, number[]>> }).micro;
    const expected = entry['expected'] as { state_dtypes: Record<string, string>; state_values: { streak: number; lastFinite: boolean } };
    const plugins = [nonfinite(config.plugins[0]!.options), accumulate(config.plugins[1]!.options as { steps: number })];
    const feeder = gradientFeeder(plugins, { w: [0, 0] });

    feeder.step(micro[0]!);
    const open = JSON.parse(JSON.stringify(await feeder.optimizer.saveCheckpoint())) as SessionCheckpoint;
    const window = open.plugins[1]!.state as { sums: Record<string, Record<string, { dtype: string }>> };
    expect(Object.values(window.sums['loss']!)[0]!.dtype).toBe(expected.state_dtypes['accumulator']);

    feeder.step(micro[1]!);
    const closed = JSON.parse(JSON.stringify(await feeder.optimizer.saveCheckpoint())) as SessionCheckpoint;
    const state = await guardState(closed);
    expect(state).toMatchObject(expected.state_values);
    expect(Number.isInteger(state.streak)).toBe(expected.state_dtypes['streak'] === 'int32');
    expect(typeof state.lastFinite).toBe(expected.state_dtypes['lastFinite'] === 'bool' ? 'boolean' : 'number');

    // Loading the round-tripped state and saving it again gives the same JSON.
    const other = gradientFeeder([nonfinite(config.plugins[0]!.options), accumulate(config.plugins[1]!.options as { steps: number })], { w: [0, 0] });
    await other.optimizer.loadCheckpoint(closed);
    const again = JSON.parse(JSON.stringify(await other.optimizer.saveCheckpoint())) as SessionCheckpoint;
    expect(again.plugins.map((plugin) => plugin.state)).toEqual(closed.plugins.map((plugin) => plugin.state));
    feeder.dispose();
    other.dispose();
  });

  it('rejects mistyped saved counters', async () => {
    const feeder = gradientFeeder([nonfinite()], { w: [0] });
    const checkpoint = await feeder.optimizer.saveCheckpoint();
    checkpoint.plugins[0]!.state = { streak: 0, lastFinite: 1, nonFiniteSteps: 0, limitEvents: 0 };
    await expect(feeder.optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: ErrorCode.ERR_PLUGIN_STATE_INVALID, path: '/lastFinite' });
    checkpoint.plugins[0]!.state = { streak: 0.5, lastFinite: true, nonFiniteSteps: 0, limitEvents: 0 };
    await expect(feeder.optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ path: '/streak' });
    feeder.dispose();
  });
});

describe('nonfinite against reference behaviour', () => {
  it('apply-if-finite: never applies the give-up step', () => {
    const example = oracle('apply-if-finite');
    const limit = example.params['max_consecutive_errors'] as number;
    const flags = example.inputs['finite_flags'] as boolean[];
    const optax = example.expected['update_applied'] as boolean[];
    const feeder = gradientFeeder([nonfinite({ maxConsecutiveSkips: limit, onLimit: 'event' })], { w: [1, 1] }, { inner: tf.train.sgd(0.1) });
    const applied = flags.map((finite) => feeder.step(finite ? FINITE : NOT_FINITE).applied);
    // The library applies exactly the finite steps.
    expect(applied).toEqual(flags);
    // optax differs exactly where it applies a non-finite update after the limit.
    const differences = optax.flatMap((value, i) => (value !== applied[i] ? [i] : []));
    expect(differences.length).toBeGreaterThan(0);
    for (const i of differences) {
      expect(flags[i]).toBe(false);
      expect(optax[i]).toBe(true);
    }
    expect(feeder.values()['w'].every(Number.isFinite)).toBe(true);
    feeder.dispose();
  });

  it('apply-if-finite: same counters as optax', async () => {
    const example = oracle('apply-if-finite');
    const feeder = gradientFeeder([nonfinite({ maxConsecutiveSkips: example.params['max_consecutive_errors'] as number, onLimit: 'event' })], { w: [1, 1] });
    (example.inputs['finite_flags'] as boolean[]).forEach((finite) => feeder.step(finite ? FINITE : NOT_FINITE));
    const state = await guardState(feeder.optimizer.saveCheckpoint());
    expect(state.nonFiniteSteps).toBe(example.expected['total_notfinite']);
    expect(state.streak).toBe(example.expected['final_notfinite_count']);
    feeder.dispose();
  });

  it('gradscaler-skip: same skipped steps, no loss scale', () => {
    const example = oracle('gradscaler-skip');
    const flags = example.inputs['finite_flags'] as boolean[];
    const reference = example.expected['steps'] as Array<{ optimizer_step: boolean; scale_after_update: number }>;
    const feeder = gradientFeeder([nonfinite()], { w: [1, 1] }, { inner: tf.train.sgd(0.1) });
    let expectedWeight = 1;
    flags.forEach((finite, i) => {
      const result = feeder.step(finite ? FINITE : NOT_FINITE);
      expect(result.applied).toBe(reference[i]!.optimizer_step);
      // GradScaler rescales its loss scale after each step; the library has no loss scale, so finite
      // gradients reach the optimizer as they are.
      expectedWeight -= finite ? 0.1 * 0.5 : 0;
      assertAllClose(feeder.values()['w'], [expectedWeight, expectedWeight], { rtol: 1e-6 });
    });
    expect(new Set(reference.map((step) => step.scale_after_update)).size).toBeGreaterThan(1);
    feeder.dispose();
  });
});

describe('nonfinite policies', () => {
  it('zero replaces non-finite elements and applies the step', async () => {
    const feeder = gradientFeeder([nonfinite({ policy: 'zero' })], { w: [1, 1, 1] }, { inner: tf.train.sgd(1) });
    const states = collect(feeder.optimizer, 'state');
    expect(feeder.step({ w: ['NaN', 0.5, '-Infinity'] }).applied).toBe(true);
    expect(feeder.values()['w']).toEqual([1, 0.5, 1]);
    expect(states[0]!.values).toMatchObject({ zeroedElements: 2 });
    expect(await guardState(feeder.optimizer.saveCheckpoint())).toEqual({ streak: 0, lastFinite: false, nonFiniteSteps: 1, limitEvents: 0 });
    feeder.dispose();
  });

  it('raise throws and changes nothing', () => {
    const feeder = gradientFeeder([nonfinite({ policy: 'raise' })], { w: [1, 1] });
    expect(() => feeder.step(NOT_FINITE)).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_NONFINITE, plugin: 'nonfinite' }));
    expect(feeder.values()['w']).toEqual([1, 1]);
    feeder.dispose();
  });

  it('names the objective and variable in the skip reason', () => {
    const feeder = gradientFeeder([nonfinite()], { w: [1], v: [1] });
    const result = feeder.step({ w: [1], v: ['Infinity'] });
    expect(result).toMatchObject({ applied: false, skippedBy: 'nonfinite' });
    expect(result.skipReason).toContain(`'${feeder.full('v')}' in objective 'loss'`);
    feeder.dispose();
  });

  it('logs repeated limit events sparsely', async () => {
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} };
    const feeder = gradientFeeder([nonfinite({ maxConsecutiveSkips: 0, onLimit: 'event' })], { w: [1, 1] }, { logger });
    for (let i = 0; i < 9; i++) {
      feeder.step(NOT_FINITE);
    }
    // Every step exceeds a limit of 0; the 1st, 2nd, 4th and 8th are logged.
    expect(warnings).toHaveLength(4);
    expect(warnings[3]).toContain('8 time(s)');
    expect(await guardState(feeder.optimizer.saveCheckpoint())).toMatchObject({ limitEvents: 9, nonFiniteSteps: 9 });
    feeder.dispose();
  });

  it('checks only the selected variables', () => {
    const feeder = gradientFeeder([nonfinite({ variables: ['**/w'] })], { w: [1], v: [1] });
    expect(() => feeder.step({ w: [1], v: ['NaN'] })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_NONFINITE, variable: feeder.full('v') }));
    feeder.dispose();
  });
});
