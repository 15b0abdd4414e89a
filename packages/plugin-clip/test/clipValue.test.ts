import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';

import { ErrorCode, HookedOptimizer } from '@gradhooks/core';
import { clipByValue, clipValue } from '@gradhooks/plugin-clip';
import { assertAllClose, assertNoLeak, fromSpec } from '@gradhooks/testing';

import { float32Tolerance, oracle, subcase } from '../../../test/helpers/specs.js';
import { runOnGradients } from './harness.js';

const startBackend = tf.getBackend();
afterAll(async () => {
  await tf.setBackend(startBackend);
});

function clipValues(values: unknown, min: number, max: number): number[] {
  return tf.tidy(() => Array.from(clipByValue(tf.tensor(fromSpec(values) as number[]), min, max).dataSync()));
}

describe('clip-value worked examples', () => {
  it('clip-by-value', () => {
    const example = oracle('clip-by-value');
    const min = example.params['min'] as number;
    const max = example.params['max'] as number;
    assertAllClose(clipValues(example.inputs['grad'], min, max), example.expected['grad'], float32Tolerance());
    const plugin = runOnGradients([clipValue({ min, max })], { g: example.inputs['grad'] });
    assertAllClose(plugin.output['g'], example.expected['grad'], float32Tolerance());
    expect(plugin.clips).toHaveLength(1);
    expect(plugin.clips[0]).toMatchObject({ plugin: 'clip-value', clipped: true, nonFiniteDetected: false });
  });

  it('B07 NaN stays NaN and is reported', () => {
    const entry = subcase('B07', 'NaN through value clipping');
    const input = entry['input'] as { grads: { a: unknown }; min: number; max: number };
    const expected = entry['expected'] as { grads: { a: unknown }; nonFiniteDetected: boolean };
    assertAllClose(clipValues(input.grads.a, input.min, input.max), expected.grads.a);
    const unguarded = runOnGradients([clipValue({ min: input.min, max: input.max })], input.grads, { guard: false });
    assertAllClose(unguarded.output['a'], expected.grads.a);
    expect(unguarded.clips[0]!.nonFiniteDetected).toBe(expected.nonFiniteDetected);
    const guarded = runOnGradients([clipValue({ min: input.min, max: input.max })], input.grads);
    expect(guarded.applied).toBe(false);
    expect(guarded.error).toMatchObject({ code: ErrorCode.ERR_GRADIENT_NONFINITE });
  });

  it('keeps infinities, unlike torch clamp', () => {
    expect(clipValues(['Infinity', '-Infinity', 3], -1, 1)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1]);
  });

  it('B08 equal bounds on cpu and wasm', async () => {
    const entry = subcase('B08', 'value clip with equal bounds');
    const input = entry['input'] as { grads: { a: number[] }; min: number; max: number };
    const expected = entry['expected'] as { grads: { a: number[] }; on_every_backend: string[] };
    // The case also names webgl and node, which cannot load in Node without a GPU or the native addon.
    const backends = expected.on_every_backend.filter((backend) => backend === 'cpu' || backend === 'wasm');
    expect(backends).toEqual(['cpu', 'wasm']);
    for (const backend of backends) {
      await tf.setBackend(backend);
      expect(clipValues(input.grads.a, input.min, input.max)).toEqual(expected.grads.a);
    }
  });

  it('B08 min above max is rejected', () => {
    const entry = subcase('B08', 'value clip with min > max');
    const options = (entry['config'] as { plugins: Array<{ options: { min: number; max: number } }> }).plugins[0]!.options;
    expect(() => new HookedOptimizer(tf.train.sgd(1), { plugins: [clipValue(options)] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, plugin: 'clip-value', path: '/min' }),
    );
  });
});

describe('clip-value plugin', () => {
  it('defaults min to minus max', () => {
    const result = runOnGradients([clipValue({ max: 2 })], { a: [-5, 1, 5] });
    expect(result.output['a']).toEqual([-2, 1, 2]);
  });

  it('rejects a negative max without min', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(1), { plugins: [clipValue({ max: -1 })] })).toThrowError(expect.objectContaining({ path: '/max' }));
  });

  it('rejects a missing max', () => {
    expect(() => clipValue({} as never)).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/max' }));
  });

  it('clips only the selected variables', () => {
    const result = runOnGradients([clipValue({ max: 1, variables: ['**/a'] })], { a: [3, -3], b: [3, -3] });
    expect(result.output['a']).toEqual([1, -1]);
    expect(result.output['b']).toEqual([3, -3]);
  });

  it('reports no clipping inside the bounds', () => {
    const result = runOnGradients([clipValue({ min: -1, max: 2 })], { a: [-1, 0.5, 2] });
    expect(result.output['a']).toEqual([-1, 0.5, 2]);
    expect(result.clips[0]).toMatchObject({ clipped: false, nonFiniteDetected: false });
    expect(result.clips[0]!.normAfter).toBeCloseTo(result.clips[0]!.normBefore, 6);
  });

  it('leaks no tensor in the pure function', async () => {
    const a = tf.tensor1d([3, Number.NaN, -4]);
    await assertNoLeak(() => clipByValue(a, -1, 1).dispose());
    a.dispose();
  });
});
