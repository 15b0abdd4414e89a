import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import type { SessionCheckpoint } from '@gradhooks/core';
import { accumulate, autoclip, nonfinite, percentileWith } from '@gradhooks/plugin-clip';
import type { AutoclipState } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

import { oracle, regressionCase } from '../../../test/helpers/specs.js';
import { collect, gradientFeeder, observer } from './helpers.js';

async function autoclipState(checkpoint: Promise<SessionCheckpoint>): Promise<AutoclipState> {
  return (await checkpoint).plugins.find((plugin) => plugin.name === 'autoclip')!.state as unknown as AutoclipState;
}

describe('autoclip worked example', () => {
  it('autoclip-5steps', async () => {
    const example = oracle('autoclip-5steps');
    const norms = example.inputs['global_norms'] as number[];
    const expected = example.expected['steps'] as Array<{ norm: number; threshold: number; coef: number; clipped_norm: number }>;
    const seen = observer();
    const feeder = gradientFeeder([autoclip({ percentile: example.params['percentile'] as number }), seen.plugin], { w: [0, 0] });
    const states = collect(feeder.optimizer, 'state');
    const clips = collect(feeder.optimizer, 'clip');
    // A gradient [0.6 n, 0.8 n] has global norm n.
    norms.forEach((norm) => feeder.step({ w: [0.6 * norm, 0.8 * norm] }));
    expected.forEach((step, i) => {
      expect(clips[i]!.normBefore).toBeCloseTo(step.norm, 5);
      assertAllClose(states[i]!.values['threshold'], step.threshold, { rtol: 1e-6, label: `threshold ${i + 1}` });
      assertAllClose(states[i]!.values['coefficient'], step.coef, { rtol: 1e-6, label: `coef ${i + 1}` });
      assertAllClose(Math.hypot(...(seen.seen[i]!['w'] as number[])), step.clipped_norm, { rtol: 1e-6, label: `clipped norm ${i + 1}` });
    });
    // Step 1: the threshold equals the norm, so torch's epsilon leaves a factor just below 1.
    expect(states[0]!.values['coefficient']).toBeLessThan(1);
    const state = await autoclipState(feeder.optimizer.saveCheckpoint());
    expect(state.norms).toHaveLength(norms.length);
    expect(state.steps).toBe(norms.length);
    feeder.dispose();
  });
});

describe('autoclip statistics', () => {
  it('B18 one history entry per step, from the global norm', async () => {
    const entry = regressionCase('B18').subcases![0]!;
    const grads = (entry['input'] as { step_grads: Record<string, number[]> }).step_grads;
    const feeder = gradientFeeder([autoclip()], { a: [0, 0], b: [0, 0] }, { inner: tf.train.sgd(0) });
    feeder.step(grads);
    const state = await autoclipState(feeder.optimizer.saveCheckpoint());
    expect(state.norms).toHaveLength(1);
    expect(state.norms[0]).toBeCloseTo((entry['expected'] as { global_norm: number }).global_norm, 5);
    feeder.dispose();
  });

  it('covers the current norm and history - 1 before it', () => {
    const feeder = gradientFeeder([autoclip({ percentile: 50, history: 3 })], { w: [0] }, { inner: tf.train.sgd(0) });
    const states = collect(feeder.optimizer, 'state');
    const norms = [4, 1, 9, 2, 7, 3];
    norms.forEach((norm) => feeder.step({ w: [norm] }));
    norms.forEach((norm, i) => {
      const window = norms.slice(Math.max(0, i - 2), i + 1).sort((a, b) => a - b);
      const median = window.length % 2 === 1 ? window[(window.length - 1) / 2]! : (window[window.length / 2 - 1]! + window[window.length / 2]!) / 2;
      expect(states[i]!.values['threshold']).toBeCloseTo(median, 5);
      expect(states[i]!.values['historyLength']).toBe(window.length);
    });
    feeder.dispose();
  });

  it('ignores skipped steps and non-finite norms', async () => {
    const feeder = gradientFeeder([nonfinite({ onLimit: 'event' }), accumulate({ steps: 2 }), autoclip()], { w: [0] }, { inner: tf.train.sgd(0) });
    feeder.step({ w: [1] });
    feeder.step({ w: ['NaN'] });
    feeder.step({ w: [3] });
    expect((await autoclipState(feeder.optimizer.saveCheckpoint())).norms).toEqual([2]);
    feeder.dispose();

    const unguarded = gradientFeeder([autoclip()], { w: [0] }, { inner: tf.train.sgd(0), guard: false });
    const clips = collect(unguarded.optimizer, 'clip');
    unguarded.step({ w: [2] });
    unguarded.step({ w: ['Infinity'] });
    expect(clips[1]).toMatchObject({ nonFiniteDetected: true, clipped: false });
    expect((await autoclipState(unguarded.optimizer.saveCheckpoint())).norms).toEqual([2]);
    unguarded.dispose();
  });

  it('rejects saved state of the wrong type', async () => {
    const feeder = gradientFeeder([autoclip()], { w: [0] });
    const checkpoint = await feeder.optimizer.saveCheckpoint();
    checkpoint.plugins[0]!.state = { norms: [1], steps: 1.5, clippedSteps: 0 };
    await expect(feeder.optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: 'ERR_PLUGIN_STATE_INVALID', path: '/steps' });
    feeder.dispose();
  });

  it('percentile matches linear interpolation', () => {
    expect(percentileWith([], 5, 10)).toBe(5);
    expect(percentileWith([5], 3, 10)).toBeCloseTo(3.2, 12);
    expect(percentileWith([1, 3, 5, 8], 10, 10)).toBeCloseTo(1.8, 12);
    expect(percentileWith([1, 3, 5, 8], 10, 100)).toBe(10);
    expect(percentileWith([1, 3, 5, 8], 0, 0)).toBe(0);
  });
});
