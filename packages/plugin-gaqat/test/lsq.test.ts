import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { initialStepSize, integerRange, lsqGradientScale, lsqParts, lsqQuantize, sumToShape } from '@gradhooks/plugin-gaqat';
import { assertAllClose, assertNoLeak } from '@gradhooks/testing';

import { float32Tolerance, oracle } from '../../../test/helpers/specs.js';

/** Gradients of Σ upstream·x̂ with respect to x and s. */
function quantizerGradients(x: tf.Tensor, s: tf.Tensor, upstream: tf.Tensor, gradientScale: number, bits: number, signed: boolean) {
  const range = integerRange(bits, signed);
  const gradient = tf.grads((input: tf.Tensor, step: tf.Tensor) => tf.sum(tf.mul(lsqQuantize(input, step, { range, gradientScale }), upstream)));
  const [dx, ds] = gradient([x, s]);
  return { dx: dx!, ds: ds! };
}

describe('LSQ worked example lsq-3bit-signed', () => {
  const example = oracle('lsq-3bit-signed');
  const params = example.params as { bits: number; signed: boolean; Qn: number; Qp: number; s: number };
  const x = example.inputs['x'] as number[];
  const upstream = example.inputs['upstream_dL_dxhat'] as number[];

  it('integer range matches Qn and Qp', () => {
    const range = integerRange(params.bits, params.signed);
    expect(range.negative).toBe(params.Qn);
    expect(range.positive).toBe(params.Qp);
  });

  it('gradient scale is 1/sqrt(N·Qp)', () => {
    expect(lsqGradientScale(x.length, params.Qp)).toBeCloseTo(example.expected['grad_scale'] as number, 12);
  });

  it('forward values and local derivatives', () => {
    const parts = lsqParts(tf.tensor1d(x), tf.scalar(params.s), integerRange(params.bits, params.signed));
    assertAllClose(parts.v, example.expected['v'], { ...float32Tolerance(), label: 'v' });
    assertAllClose(parts.quantized, example.expected['xhat'], { ...float32Tolerance(), label: 'xhat' });
    assertAllClose(parts.stepGradient, example.expected['dxhat_ds'], { ...float32Tolerance(), label: 'dxhat_ds' });
    tf.dispose([parts.v, parts.quantized, parts.stepGradient, parts.inside]);
  });

  it('custom gradient gives grad_x and grad_s', () => {
    const scale = lsqGradientScale(x.length, params.Qp);
    const scaled = quantizerGradients(tf.tensor1d(x), tf.scalar(params.s), tf.tensor1d(upstream), scale, params.bits, params.signed);
    assertAllClose(scaled.dx, example.expected['grad_x'], { ...float32Tolerance(), label: 'grad_x' });
    assertAllClose(scaled.ds, example.expected['grad_s'], { ...float32Tolerance(), label: 'grad_s' });
    const unscaled = quantizerGradients(tf.tensor1d(x), tf.scalar(params.s), tf.tensor1d(upstream), 1, params.bits, params.signed);
    assertAllClose(unscaled.ds, example.expected['grad_s_unscaled'], { ...float32Tolerance(), label: 'grad_s_unscaled' });
  });

  it('forward of lsqQuantize equals xhat', () => {
    const range = integerRange(params.bits, params.signed);
    const quantized = lsqQuantize(tf.tensor1d(x), tf.scalar(params.s), { range, gradientScale: 1 });
    assertAllClose(quantized, example.expected['xhat'], { ...float32Tolerance(), label: 'xhat' });
  });
});

describe('LSQ quantizer conventions', () => {
  it('unsigned range is [0, 2^b - 1]', () => {
    expect(integerRange(4, false)).toEqual({ negative: 0, positive: 15 });
    expect(integerRange(2, true)).toEqual({ negative: 2, positive: 1 });
    expect(integerRange(8, true)).toEqual({ negative: 128, positive: 127 });
  });

  it('rejects bit widths outside 2 to 8', () => {
    expect(() => integerRange(1, true)).toThrow(/from 2 to 8/);
    expect(() => integerRange(9, false)).toThrow(/from 2 to 8/);
    expect(() => integerRange(3.5, true)).toThrow(/from 2 to 8/);
  });

  it('clip boundary counts as inside', () => {
    // 3-bit signed, s = 1: v = -4 and v = 3 sit exactly on the boundaries.
    const { dx, ds } = quantizerGradients(tf.tensor1d([-4, 3]), tf.scalar(1), tf.tensor1d([1, 1]), 1, 3, true);
    assertAllClose(dx, [1, 1], { label: 'dx at the boundary' });
    assertAllClose(ds, 0, { label: 'ds at the boundary' });
    const outside = quantizerGradients(tf.tensor1d([-4.5, 3.5]), tf.scalar(1), tf.tensor1d([1, 1]), 1, 3, true);
    assertAllClose(outside.dx, [0, 0], { label: 'dx outside' });
    assertAllClose(outside.ds, -4 + 3, { label: 'ds outside: -Qn + Qp' });
  });

  it('rounds half to even', () => {
    const range = integerRange(8, true);
    const quantized = lsqQuantize(tf.tensor1d([0.5, 1.5, 2.5, -0.5, -1.5]), tf.scalar(1), { range, gradientScale: 1 });
    expect(Array.from(quantized.dataSync())).toEqual([0, 2, 2, -0, -2]);
  });

  it('per-channel step gradient sums over the other axes', () => {
    const kernel = tf.tensor2d([
      [0.3, -0.7],
      [1.6, 0.05],
    ]);
    const steps = tf.tensor1d([0.5, 0.25]);
    const { ds } = quantizerGradients(kernel, steps, tf.onesLike(kernel), 1, 3, true);
    const parts = lsqParts(kernel, steps, integerRange(3, true));
    const expected = tf.sum(parts.stepGradient, 0);
    expect(ds.shape).toEqual([2]);
    assertAllClose(ds, Array.from(expected.dataSync()), { label: 'per-channel ds' });
  });

  it('initial step is 2·mean|x|/sqrt(Qp)', () => {
    const x = tf.tensor2d([
      [1, -2],
      [-3, 4],
    ]);
    const positive = 7;
    assertAllClose(initialStepSize(x, positive), (2 * 2.5) / Math.sqrt(positive), { label: 'per tensor' });
    assertAllClose(initialStepSize(x, positive, true), [(2 * 2) / Math.sqrt(positive), (2 * 3) / Math.sqrt(positive)], { label: 'per channel' });
    assertAllClose(initialStepSize(tf.zeros([3]), positive), 1e-8, { rtol: 1e-6, atol: 0, label: 'all zero' });
  });

  it('sumToShape follows broadcasting', () => {
    const gradient = tf.ones([2, 3, 4]);
    expect(Array.from(sumToShape(gradient, []).dataSync())).toEqual([24]);
    expect(Array.from(sumToShape(gradient, [4]).dataSync())).toEqual([6, 6, 6, 6]);
    expect(sumToShape(gradient, [3, 1]).shape).toEqual([3, 1]);
    expect(Array.from(sumToShape(gradient, [3, 1]).dataSync())).toEqual([8, 8, 8]);
  });

  it('leaks no tensor in forward and backward', async () => {
    const x = tf.tensor1d([0.3, -0.7, 1.6]);
    const s = tf.scalar(0.5);
    const upstream = tf.tensor1d([1, 2, 3]);
    await assertNoLeak(() => {
      const { dx, ds } = quantizerGradients(x, s, upstream, 0.1, 3, true);
      const parts = lsqParts(x, s, integerRange(3, true));
      tf.dispose([dx, ds, parts.v, parts.quantized, parts.stepGradient, parts.inside]);
    });
    tf.dispose([x, s, upstream]);
  });
});
