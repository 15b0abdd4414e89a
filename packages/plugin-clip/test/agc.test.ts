import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import { adaptiveClip, agc, unitAxes, unitwiseNorm } from '@gradhooks/plugin-clip';
import { assertAllClose, assertNoLeak } from '@gradhooks/testing';

import { float32Tolerance, oracle, subcase } from '../../../test/helpers/specs.js';
import { collect, gradientFeeder, observer } from './helpers.js';

function clipPure(parameter: unknown, gradient: unknown, clipping: number, eps: number) {
  return tf.tidy(() => {
    const clip = adaptiveClip(tf.tensor(gradient as number[]), tf.tensor(parameter as number[]), clipping, eps);
    return {
      gradient: clip.gradient.arraySync(),
      gradientNorm: Array.from(clip.gradientNorm.dataSync()),
      maxNorm: Array.from(clip.maxNorm.dataSync()),
      clippedUnits: tf.sum(tf.cast(clip.clipped, 'int32')).dataSync()[0]!,
      units: clip.units,
    };
  });
}

/** Runs one `agc` step on variables holding `parameters` and returns the gradients that reached the optimizer. */
function clipWithPlugin(parameters: Record<string, unknown>, gradients: Record<string, unknown>, options: Parameters<typeof agc>[0]) {
  const seen = observer();
  const feeder = gradientFeeder([agc(options), seen.plugin], parameters, { inner: tf.train.sgd(0) });
  const clips = collect(feeder.optimizer, 'clip');
  const states = collect(feeder.optimizer, 'state');
  feeder.step(gradients);
  feeder.dispose();
  return { output: seen.seen[0]!, clips, states };
}

describe('agc worked examples', () => {
  for (const id of ['agc-2x3-io', 'agc-2x3-io-no-clip']) {
    it(id, () => {
      const example = oracle(id);
      const clipping = example.params['clipping'] as number;
      const eps = example.params['eps'] as number;
      const result = clipPure(example.inputs['param'], example.inputs['grad'], clipping, eps);
      assertAllClose(result.gradientNorm, example.expected['grad_unit_norm'], { ...float32Tolerance(), label: 'grad_unit_norm' });
      assertAllClose(result.maxNorm, example.expected['max_unit_norm'], { ...float32Tolerance(), label: 'max_unit_norm' });
      assertAllClose(result.gradient, example.expected['grad'], { ...float32Tolerance(), label: 'grad' });
      const plugin = clipWithPlugin({ k: example.inputs['param'] }, { k: example.inputs['grad'] }, { clipping, eps });
      assertAllClose(plugin.output['k'], (example.expected['grad'] as number[][]).flat(), { ...float32Tolerance(), label: 'plugin grad' });
    });
  }

  it('agc-bias-vector-clip0.1', () => {
    const example = oracle('agc-bias-vector-clip0.1');
    const result = clipPure(example.inputs['param'], example.inputs['grad'], example.params['clipping'] as number, example.params['eps'] as number);
    assertAllClose(result.gradientNorm, [example.expected['grad_norm']], float32Tolerance());
    assertAllClose(result.maxNorm, [example.expected['max_unit_norm']], float32Tolerance());
    assertAllClose(result.gradient, example.expected['grad'], float32Tolerance());
    expect(result.units).toBe(1);
  });
});

describe('agc tfjs layouts', () => {
  it('B19 dense kernel: one unit per output column', () => {
    const entry = subcase('B19', 'dense kernel, tfjs layout [in,out]: one unit = one output column');
    const input = entry['input'] as { clipping: number; eps: number; param: { k: unknown }; grad: { k: unknown } };
    const expected = entry['expected'] as { grad: { k: number[][] } };
    const wrong = (entry['wrong_outputs_seen'] as Record<string, { k: number[][] }>)['rows treated as units (PyTorch [out,in] rule applied to tfjs)']!;
    const tolerance = { atol: entry['tolerance'] as number, rtol: 0 };
    const result = clipPure(input.param.k, input.grad.k, input.clipping, input.eps);
    assertAllClose(result.gradient, expected.grad.k, tolerance);
    expect(() => assertAllClose(result.gradient, wrong.k, tolerance)).toThrow();
  });

  it('B19 zero-initialised bias uses the eps floor', () => {
    const entry = subcase('B19', 'zero-initialised bias');
    const input = entry['input'] as { clipping: number; eps: number; param: { b: unknown }; grad: { b: unknown } };
    const expected = entry['expected'] as { grad: { b: number[] } };
    const plugin = clipWithPlugin({ b: input.param.b }, { b: input.grad.b }, { clipping: input.clipping, eps: input.eps });
    assertAllClose(plugin.output['b'], expected.grad.b, { atol: entry['tolerance'] as number, rtol: 1e-6 });
  });

  it('B19 conv kernels of rank 4 and 5 use the last axis', () => {
    const entry = subcase('B19', 'conv kernels of rank 4 and 5 (tfjs [h,w,in,out] and [d,h,w,in,out])');
    expect((entry['expected'] as { unit_axis: string }).unit_axis).toBe('last');
    expect(unitAxes([3, 3, 4, 8])).toEqual([0, 1, 2]);
    expect(unitAxes([2, 3, 3, 4, 8])).toEqual([0, 1, 2, 3]);
    for (const shape of [
      [3, 3, 4, 8],
      [2, 3, 3, 4, 8],
    ]) {
      const parameter = tf.randomNormal(shape, 0, 0.1, 'float32', 5);
      const gradient = tf.randomNormal(shape, 0, 1, 'float32', 6);
      const clip = adaptiveClip(gradient, parameter, 0.01, 1e-3);
      expect(clip.units).toBe(8);
      // Reference: clip each output channel (last index) on its own, as a flat vector.
      const out = shape[shape.length - 1]!;
      const g = gradient.reshape([-1, out]).arraySync() as number[][];
      const p = parameter.reshape([-1, out]).arraySync() as number[][];
      const expected = g.map((row) => row.slice());
      for (let unit = 0; unit < out; unit++) {
        const gNorm = Math.hypot(...g.map((row) => row[unit]!));
        const pNorm = Math.hypot(...p.map((row) => row[unit]!));
        const max = 0.01 * Math.max(pNorm, 1e-3);
        if (gNorm >= max) {
          expected.forEach((row) => (row[unit] = row[unit]! * (max / Math.max(gNorm, 1e-6))));
        }
      }
      assertAllClose(clip.gradient.reshape([-1, out]), expected, { rtol: 1e-4, atol: 1e-7 });
      tf.dispose([parameter, gradient, clip.gradient, clip.gradientNorm, clip.maxNorm, clip.clipped]);
    }
  });

  it('rank 3 conv1d kernels use the last axis too', () => {
    expect(unitAxes([5, 4, 8])).toEqual([0, 1]);
  });

  it('reads [1, n] and [n, 1] kernels as one unit', () => {
    expect(unitAxes([1, 6])).toEqual([0, 1]);
    expect(unitAxes([6, 1])).toEqual([0, 1]);
    expect(unitAxes([1, 1, 3, 8])).toEqual([0, 1, 2]);
  });

  it('B19 excluded variable passes unchanged', () => {
    const entry = subcase('B19', 'excluded variable');
    const input = entry['input'] as { exclude: string[]; grad: Record<string, unknown>; param: Record<string, number[][]> };
    const expected = entry['expected'] as { grad: Record<string, number[][]> };
    const name = Object.keys(input.param)[0]!;
    const variable = tf.variable(tf.tensor(input.param[name]!), true, name);
    const other = tf.variable(tf.tensor1d([0.1, 0.1]), true, 'body/bias');
    const seen = observer();
    const optimizer = new HookedOptimizer(tf.train.sgd(0), { plugins: [agc({ exclude: input.exclude }), seen.plugin] });
    optimizer.step(
      { loss: { gradients: () => ({ value: tf.scalar(0), grads: { [name]: tf.tensor(input.grad[name] as number[][]), 'body/bias': tf.tensor1d([30, 40]) } }) } },
      { variables: [variable, other] },
    );
    expect(seen.seen[0]![name.split('/').slice(1).join('/')]).toEqual(expected.grad[name]!.flat());
    // The other variable is clipped: its unit norm 50 exceeds 0.01 * |[0.1, 0.1]|.
    const limit = 0.01 * Math.hypot(0.1, 0.1);
    assertAllClose(seen.seen[0]!['bias'], [0.6 * limit, 0.8 * limit], { rtol: 1e-5 });
    optimizer.dispose();
    tf.dispose([variable, other]);
  });
});

describe('agc plugin', () => {
  it('leaves a unit with a non-finite gradient unchanged', () => {
    const result = clipPure([[1, 1], [1, 1]], [[Number.NaN, 30], [1, 40]], 0.01, 1e-3);
    const gradient = result.gradient as number[][];
    expect(gradient[0]![0]).toBeNaN();
    expect(gradient[1]![0]).toBe(1);
    assertAllClose([gradient[0]![1], gradient[1]![1]], [0.6 * 0.01 * Math.SQRT2, 0.8 * 0.01 * Math.SQRT2], { rtol: 1e-5 });
    expect(result.clippedUnits).toBe(1);
  });

  it('clips gradients whose squares overflow float32', () => {
    const result = clipPure([3, 4], [3e30, 4e30], 0.1, 1e-3);
    assertAllClose(result.gradient, [0.3, 0.4], { rtol: 1e-5 });
  });

  it('keeps the norm of tiny gradient units', () => {
    const norm = tf.tidy(() => Array.from(unitwiseNorm(tf.tensor1d([3e-9, 4e-9])).dataSync()));
    assertAllClose(norm, [5e-9], { rtol: 1e-3, atol: 0 });
  });

  it('reports norms and clipped units', () => {
    const plugin = clipWithPlugin({ k: [[0.5, -1, 0], [0.2, 0.3, 0]] }, { k: [[0.01, 0.05, 0.002], [-0.02, 0.01, 0.001]] }, { clipping: 0.01 });
    expect(plugin.clips[0]).toMatchObject({ plugin: 'agc', clipped: true, nonFiniteDetected: false });
    expect(plugin.clips[0]!.normAfter).toBeLessThan(plugin.clips[0]!.normBefore);
    expect(plugin.states[0]!.values).toEqual({ clippedUnits: 3, units: 3 });
  });

  it('leaks no tensor in the pure function', async () => {
    const parameter = tf.tensor2d([[1, 2], [3, 4]]);
    const gradient = tf.tensor2d([[10, 20], [30, 40]]);
    await assertNoLeak(() => {
      const clip = adaptiveClip(gradient, parameter, 0.01, 1e-3);
      tf.dispose([clip.gradient, clip.gradientNorm, clip.maxNorm, clip.clipped]);
    });
    tf.dispose([parameter, gradient]);
  });
});
