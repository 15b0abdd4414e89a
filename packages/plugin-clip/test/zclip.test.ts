import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import type { SessionCheckpoint } from '@gradhooks/core';
import { nonfinite, zclip, zclipStep } from '@gradhooks/plugin-clip';
import type { ZClipSettings, ZclipState } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

import { oracle, regressionCase } from '../../../test/helpers/specs.js';
import { collect, gradientFeeder, observer } from './helpers.js';

const referenceDefaults: ZClipSettings = {
  alpha: 0.97,
  zThreshold: 2.5,
  maxNorm: undefined,
  warmupSteps: 25,
  eps: 1e-6,
  mode: 'zscore',
  clipOption: 'adaptive-scaling',
  clipFactor: 1,
  skipUpdateOnSpike: false,
};

async function zclipState(checkpoint: Promise<SessionCheckpoint>): Promise<ZclipState> {
  return (await checkpoint).plugins.find((plugin) => plugin.name === 'zclip')!.state as unknown as ZclipState;
}

describe('zclip worked example', () => {
  it('zclip-6steps-maxnorm-None', async () => {
    const example = oracle('zclip-6steps-maxnorm-None');
    const params = example.params as { alpha: number; zThreshold: number; eps: number; warmupSteps: number; maxNorm: null; clip_factor: number };
    const expected = example.expected['steps'] as Array<{ norm: number; coef: number; mean: number | null; var: number | null; z?: number; clip_val?: number | null; eff?: number }>;
    const norms = example.inputs['global_norms'] as number[];

    // The pure function, in float64.
    let statistics = { buffer: [] as number[], mean: null as number | null, variance: null as number | null };
    const settings = { ...referenceDefaults, alpha: params.alpha, zThreshold: params.zThreshold, eps: params.eps, warmupSteps: params.warmupSteps, clipFactor: params.clip_factor };
    norms.forEach((norm, i) => {
      const decision = zclipStep(statistics, norm, settings);
      const step = expected[i]!;
      expect(decision.coefficient).toBeCloseTo(step.coef, 12);
      if (step.z !== undefined) {
        expect(decision.z).toBeCloseTo(step.z, 12);
        expect(decision.clipValue === null ? null : decision.clipValue).toEqual(step.clip_val === null ? null : expect.closeTo(step.clip_val!, 12));
        expect(decision.effective).toBeCloseTo(step.eff!, 12);
      }
      expect(decision.next.mean === null ? null : decision.next.mean).toEqual(step.mean === null ? null : expect.closeTo(step.mean, 12));
      expect(decision.next.variance === null ? null : decision.next.variance).toEqual(step.var === null ? null : expect.closeTo(step.var, 12));
      statistics = decision.next;
    });

    // The plugin, on float32 gradients with those global norms.
    const seen = observer();
    const feeder = gradientFeeder([zclip({ alpha: params.alpha, zThreshold: params.zThreshold, eps: params.eps, warmupSteps: params.warmupSteps }), seen.plugin], { w: [0, 0] });
    norms.forEach((norm) => feeder.step({ w: [0.6 * norm, 0.8 * norm] }));
    expected.forEach((step, i) => {
      assertAllClose(Math.hypot(...(seen.seen[i]!['w'] as number[])), step.norm * step.coef, { rtol: 1e-6, label: `clipped norm ${i + 1}` });
    });
    const state = await zclipState(feeder.optimizer.saveCheckpoint());
    assertAllClose(state.mean, expected[expected.length - 1]!.mean, { rtol: 1e-6 });
    assertAllClose(state.variance, expected[expected.length - 1]!.var, { rtol: 1e-5 });
    expect(state.steps).toBe(norms.length);
    expect(state.clippedSteps).toBe(1);
    feeder.dispose();
  });
});

describe('zclip statistics', () => {
  it('B18 one statistics update per step, on the global norm', async () => {
    const entry = regressionCase('B18').subcases![0]!;
    const input = entry['input'] as { alpha: number; zThreshold: number; warmupSteps: number; warmupNorms: number[]; step_grads: Record<string, number[]> };
    const expected = entry['expected'] as {
      warmup_mean: number;
      warmup_var: number;
      global_norm: number;
      z: number;
      clip_to: number;
      grads: Record<string, number[]>;
      mean_after: number;
      var_after: number;
      stat_updates: number;
    };
    const tolerance = { rtol: entry['tolerance'] as number, atol: entry['tolerance'] as number };
    const seen = observer();
    const feeder = gradientFeeder([zclip({ alpha: input.alpha, zThreshold: input.zThreshold, warmupSteps: input.warmupSteps }), seen.plugin], { a: [0, 0], b: [0, 0] }, { inner: tf.train.sgd(0) });
    const states = collect(feeder.optimizer, 'state');
    input.warmupNorms.forEach((norm) => feeder.step({ a: [norm, 0], b: [0, 0] }));
    const afterWarmup = await zclipState(feeder.optimizer.saveCheckpoint());
    assertAllClose(afterWarmup.mean, expected.warmup_mean, tolerance);
    assertAllClose(afterWarmup.variance, expected.warmup_var, tolerance);

    feeder.step(input.step_grads);
    const last = states[states.length - 1]!.values;
    assertAllClose(last['z'], expected.z, tolerance);
    assertAllClose(last['threshold'], expected.clip_to, tolerance);
    for (const name of Object.keys(expected.grads)) {
      assertAllClose(seen.seen[2]![name], expected.grads[name], { ...tolerance, label: name });
    }
    const state = await zclipState(feeder.optimizer.saveCheckpoint());
    assertAllClose(state.mean, expected.mean_after, tolerance);
    assertAllClose(state.variance, expected.var_after, tolerance);
    expect(state.steps - input.warmupNorms.length).toBe(expected.stat_updates);
    feeder.dispose();
  });

  it('clips at maxNorm during warm-up as torch does', () => {
    const decision = zclipStep({ buffer: [], mean: null, variance: null }, 4, { ...referenceDefaults, maxNorm: 1 });
    expect(decision.phase).toBe('warmup');
    expect(decision.coefficient).toBeCloseTo(1 / (4 + 1e-6), 15);
  });

  it('caps the threshold at maxNorm after warm-up', () => {
    const decision = zclipStep({ buffer: [], mean: 3, variance: 1 }, 3.5, { ...referenceDefaults, maxNorm: 2 });
    expect(decision.clipValue).toBeNull();
    expect(decision.effective).toBe(2);
    expect(decision.coefficient).toBeCloseTo(2 / (3.5 + 1e-6), 15);
    expect(decision.next.mean).toBeCloseTo(0.97 * 3 + 0.03 * 3.5, 15);
  });

  it('clips a spike to the mean with clipOption mean', () => {
    const decision = zclipStep({ buffer: [], mean: 1, variance: 0.01 }, 2, { ...referenceDefaults, clipOption: 'mean' });
    expect(decision.clipValue).toBe(1);
    expect(decision.coefficient).toBeCloseTo(1 / (2 + 1e-6), 15);
  });

  it('clips above mean + z * std in percentile mode', () => {
    const settings = { ...referenceDefaults, mode: 'percentile' as const };
    expect(zclipStep({ buffer: [], mean: 1, variance: 0.04 }, 1.4, settings).clipValue).toBeNull();
    expect(zclipStep({ buffer: [], mean: 1, variance: 0.04 }, 1.6, settings).clipValue).toBeCloseTo(1.5, 15);
  });

  it('keeps the statistics on a spike with skipUpdateOnSpike', () => {
    const decision = zclipStep({ buffer: [], mean: 1, variance: 0.01 }, 5, { ...referenceDefaults, skipUpdateOnSpike: true });
    expect(decision.coefficient).toBeLessThan(1);
    expect(decision.next).toEqual({ buffer: [], mean: 1, variance: 0.01 });
  });

  it('ignores skipped steps and non-finite norms', async () => {
    const feeder = gradientFeeder([nonfinite(), zclip({ warmupSteps: 2 })], { w: [0] }, { inner: tf.train.sgd(0) });
    feeder.step({ w: [1] });
    feeder.step({ w: ['NaN'] });
    expect((await zclipState(feeder.optimizer.saveCheckpoint())).buffer).toEqual([1]);
    feeder.dispose();

    const unguarded = gradientFeeder([zclip({ warmupSteps: 2 })], { w: [0] }, { inner: tf.train.sgd(0), guard: false });
    const clips = collect(unguarded.optimizer, 'clip');
    unguarded.step({ w: [1] });
    unguarded.step({ w: ['Infinity'] });
    expect(clips[1]).toMatchObject({ nonFiniteDetected: true, clipped: false });
    expect(await zclipState(unguarded.optimizer.saveCheckpoint())).toMatchObject({ buffer: [1], steps: 1 });
    unguarded.dispose();
  });

  it('rejects inconsistent saved statistics', async () => {
    const feeder = gradientFeeder([zclip()], { w: [0] });
    const checkpoint = await feeder.optimizer.saveCheckpoint();
    checkpoint.plugins[0]!.state = { buffer: [], mean: 1, variance: null, steps: 0, clippedSteps: 0 };
    await expect(feeder.optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: 'ERR_PLUGIN_STATE_INVALID', path: '/variance' });
    feeder.dispose();
  });
});
