import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode, HookedOptimizer } from '@gradhooks/core';
import { clipEachByNorm, clipGlobalNorm, clipNorm, readPerTensorClip } from '@gradhooks/plugin-clip';
import type { NormType } from '@gradhooks/plugin-clip';
import { assertAllClose, assertNoLeak, fromSpec } from '@gradhooks/testing';

import { float32Tolerance, oracle, regressionCase } from '../../../test/helpers/specs.js';
import { runOnGradients } from './harness.js';
import { collect, gradientFeeder } from './helpers.js';

function clipEach(map: Record<string, unknown>, maxNorm: number, normType: NormType = 2) {
  const inputs = Object.fromEntries(Object.entries(map).map(([name, values]) => [name, tf.tensor(fromSpec(values) as number[])]));
  const clip = clipEachByNorm(inputs, maxNorm, normType);
  const summary = readPerTensorClip(clip);
  const output = Object.fromEntries(Object.entries(clip.gradients).map(([name, tensor]) => [name, tensor === null ? null : tensor.arraySync()]));
  tf.dispose([...Object.values(inputs), ...(Object.values(clip.gradients) as tf.Tensor[]), clip.norms, clip.scales]);
  return { output, ...summary };
}

describe('clip-norm worked examples', () => {
  it('clip-per-tensor-norm', () => {
    const example = oracle('clip-per-tensor-norm');
    const grads = Object.fromEntries((example.inputs['grads'] as unknown[]).map((values, i) => [`g${i}`, values]));
    const maxNorm = example.params['maxNorm'] as number;
    const expected = example.expected['grads'] as unknown[];
    const result = clipEach(grads, maxNorm);
    Object.values(result.output).forEach((values, i) => assertAllClose(values, expected[i], { ...float32Tolerance(), label: `g${i}` }));
    expect(result.clippedTensors).toBe(1);
    const plugin = runOnGradients([clipNorm({ maxNorm })], grads);
    Object.values(plugin.output).forEach((values, i) => assertAllClose(values, expected[i], { ...float32Tolerance(), label: `plugin g${i}` }));
    expect(plugin.clips[0]).toMatchObject({ plugin: 'clip-norm', clipped: true, nonFiniteDetected: false });
  });

  it('B09 per-variable clipping differs from global clipping', () => {
    const entry = regressionCase('B09').subcases![0]!;
    const input = entry['input'] as { grads: Record<string, unknown>; maxNorm: number };
    const expected = entry['expected'] as Record<string, { grads: Record<string, unknown> }>;
    const tolerance = { atol: entry['atol'] as number, rtol: entry['rtol'] as number };
    const perTensor = runOnGradients([clipNorm({ maxNorm: input.maxNorm })], input.grads);
    const global = runOnGradients([clipGlobalNorm({ maxNorm: input.maxNorm })], input.grads);
    for (const name of Object.keys(input.grads)) {
      assertAllClose(perTensor.output[name], expected['clip-norm']!.grads[name], { ...tolerance, label: `clip-norm ${name}` });
      assertAllClose(global.output[name], expected['clip-global-norm']!.grads[name], { ...tolerance, label: `clip-global-norm ${name}` });
    }
  });

  it('B04 cannot be combined with clip-global-norm', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(1), { plugins: [clipNorm({ maxNorm: 1 }), clipGlobalNorm({ maxNorm: 1 })] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_PLUGIN_CONFLICT }),
    );
  });
});

describe('clip-norm plugin', () => {
  it('leaves a non-finite tensor unchanged and clips the others', () => {
    const result = clipEach({ a: ['Infinity', 1], b: [3, 4] }, 1);
    expect(result.output['a']).toEqual([Number.POSITIVE_INFINITY, 1]);
    assertAllClose(result.output['b'], [0.6, 0.8]);
    expect(result.nonFiniteDetected).toBe(true);
    expect(result.clippedTensors).toBe(1);
  });

  it('clips with norm types 1 and inf', () => {
    assertAllClose(clipEach({ a: [3, -4] }, 1, 1).output['a'], [3 / 7, -4 / 7]);
    assertAllClose(clipEach({ a: [3, -4] }, 1, 'inf').output['a'], [0.75, -1]);
  });

  it('keeps null gradients and empty tensors', () => {
    const empty = tf.zeros([0]);
    const clip = clipEachByNorm({ a: null, e: empty }, 1);
    expect(clip.gradients['a']).toBeNull();
    expect(clip.gradients['e']!.shape).toEqual([0]);
    expect(readPerTensorClip(clip).clippedTensors).toBe(0);
    tf.dispose([empty, clip.gradients['e']!, clip.norms, clip.scales]);
  });

  it('clips only the selected tensors', () => {
    const result = runOnGradients([clipNorm({ maxNorm: 1, variables: ['**/a', '**/b'] })], { a: [3, 4], b: [0.5, 0], c: [30, 40] });
    assertAllClose(result.output['a'], [0.6, 0.8]);
    expect(result.output['b']).toEqual([0.5, 0]);
    expect(result.output['c']).toEqual([30, 40]);
    expect(result.clips[0]!.normBefore).toBeCloseTo(Math.sqrt(25.25), 5);
  });

  it('reports clipped tensors in a state event', () => {
    const feeder = gradientFeeder([clipNorm({ maxNorm: 1 })], { a: [0, 0], b: [0, 0] }, { inner: tf.train.sgd(0) });
    const states = collect(feeder.optimizer, 'state');
    feeder.step({ a: [3, 4], b: [0.5, 0] });
    expect(states).toEqual([expect.objectContaining({ plugin: 'clip-norm', values: { clippedTensors: 1, tensors: 2 } })]);
    feeder.dispose();
  });

  it('rejects a non-positive maxNorm', () => {
    expect(() => clipNorm({ maxNorm: 0 })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/maxNorm' }));
  });

  it('leaks no tensor in the pure function', async () => {
    const a = tf.tensor1d([3, 4]);
    await assertNoLeak(() => {
      const clip = clipEachByNorm({ a }, 1);
      tf.dispose([clip.gradients['a']!, clip.norms, clip.scales]);
    });
    a.dispose();
  });
});
