import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode } from '@gradhooks/core';
import { clipByGlobalNorm, clipGlobalNorm, globalNorm, readClip } from '@gradhooks/plugin-clip';
import type { ClipConvention, NormType } from '@gradhooks/plugin-clip';
import { assertAllClose, assertNoLeak, fromSpec } from '@gradhooks/testing';

import { float32Tolerance, oracle, regressionCase, subcase } from '../../../test/helpers/specs.js';
import { runOnGradients } from './harness.js';

/** Turns the oracles' list of tensors into a map g0, g1, ... */
function asMap(list: unknown[]): Record<string, unknown> {
  return Object.fromEntries(list.map((values, i) => [`g${i}`, fromSpec(values)]));
}

function tensors(map: Record<string, unknown>): Record<string, tf.Tensor> {
  return Object.fromEntries(Object.entries(map).map(([name, values]) => [name, tf.tensor(fromSpec(values) as number[])]));
}

function clipValues(map: Record<string, unknown>, maxNorm: number, options: { normType?: NormType; convention?: ClipConvention } = {}) {
  const inputs = tensors(map);
  const clip = clipByGlobalNorm(inputs, maxNorm, options);
  const summary = readClip(clip);
  const output = Object.fromEntries(Object.entries(clip.gradients).map(([name, tensor]) => [name, tensor === null ? null : tensor.arraySync()]));
  tf.dispose([...Object.values(inputs), ...(Object.values(clip.gradients).filter((tensor) => tensor !== null) as tf.Tensor[]), clip.norm, clip.scale]);
  return { output, ...summary };
}

describe('clip-global-norm worked examples', () => {
  for (const id of ['clip-global-norm-max5', 'clip-global-norm-max13', 'clip-global-norm-max20']) {
    const example = oracle(id);
    const grads = asMap(example.inputs['grads'] as unknown[]);
    const maxNorm = example.params['maxNorm'] as number;
    for (const convention of ['exact', 'torch', 'optax'] as const) {
      it(`${id}, convention ${convention}`, () => {
        const expected = example.expected[convention] as { grads: unknown[] };
        const result = clipValues(grads, maxNorm, { convention });
        expect(result.normBefore).toBeCloseTo(example.expected['total_norm'] as number, 5);
        Object.values(result.output).forEach((values, i) => assertAllClose(values, expected.grads[i], { ...float32Tolerance(), label: `g${i}` }));
        const plugin = runOnGradients([clipGlobalNorm({ maxNorm, convention })], grads);
        Object.values(plugin.output).forEach((values, i) => assertAllClose(values, expected.grads[i], { ...float32Tolerance(), label: `plugin g${i}` }));
      });
    }
    it(`${id}: exact convention equals TensorFlow's result`, () => {
      const exact = example.expected['exact'] as { grads: unknown[] };
      const tensorflow = example.expected['tensorflow'] as { grads: unknown[] };
      expect(exact.grads).toEqual(tensorflow.grads);
    });
  }

  for (const id of ['clip-global-norm-type-1', 'clip-global-norm-type-inf']) {
    it(id, () => {
      const example = oracle(id);
      const grads = asMap(example.inputs['grads'] as unknown[]);
      const result = clipValues(grads, example.params['maxNorm'] as number, {
        normType: example.params['normType'] as NormType,
        convention: example.params['convention'] as ClipConvention,
      });
      expect(result.normBefore).toBeCloseTo(example.expected['total_norm'] as number, 5);
      assertAllClose(result.scale, example.expected['coef'], { rtol: 1e-6 });
      const expected = example.expected['grads'] as unknown[];
      Object.values(result.output).forEach((values, i) => assertAllClose(values, expected[i], { ...float32Tolerance(), label: `g${i}` }));
    });
  }

  it('clip-global-norm-nonfinite leaves the gradients unchanged and reports it', () => {
    const example = oracle('clip-global-norm-nonfinite');
    const grads = asMap(example.inputs['grads'] as unknown[]);
    for (const convention of ['exact', 'torch', 'optax'] as const) {
      const result = clipValues(grads, example.params['maxNorm'] as number, { convention });
      expect(result.normBefore).toBe(Number.POSITIVE_INFINITY);
      expect(result.nonFiniteDetected).toBe(true);
      expect(result.clipped).toBe(false);
      const expected = example.expected['grads'] as unknown[];
      Object.values(result.output).forEach((values, i) => assertAllClose(values, expected[i], { label: `${convention} g${i}` }));
    }
  });
});

describe('clip-global-norm corner cases', () => {
  const b06 = ['zero grads, maxNorm 0', 'nonzero grads, maxNorm 0', 'norm exactly equal to maxNorm', 'clip to 1', 'below threshold'];
  for (const name of b06) {
    it(`B06 ${name}`, () => {
      const entry = subcase('B06', name);
      const input = entry['input'] as { grads: Record<string, unknown>; maxNorm: number };
      const expected = entry['expected'] as { grads: Record<string, unknown>; clipped?: boolean; preClipNorm?: number; postClipNorm?: number };
      const tolerance = { atol: (entry['tolerance'] as number | undefined) ?? (entry['atol'] as number | undefined) ?? 1e-6, rtol: (entry['rtol'] as number | undefined) ?? 0 };
      const result = clipValues(input.grads, input.maxNorm);
      for (const [variable, values] of Object.entries(expected.grads)) {
        assertAllClose(result.output[variable], values, { ...tolerance, label: variable });
      }
      if (expected.clipped !== undefined) {
        expect(result.clipped).toBe(expected.clipped);
      }
      if (expected.preClipNorm !== undefined) {
        expect(result.normBefore).toBeCloseTo(expected.preClipNorm, 5);
      }
      if (expected.postClipNorm !== undefined) {
        expect(result.normAfter).toBeCloseTo(expected.postClipNorm, 5);
      }
      for (const variant of (entry['expected_with_options'] as Array<{ options: { convention: ClipConvention }; expected: { grads: Record<string, unknown>; clipped: boolean }; atol: number }> | undefined) ?? []) {
        const other = clipValues(input.grads, input.maxNorm, variant.options);
        for (const [variable, values] of Object.entries(variant.expected.grads)) {
          assertAllClose(other.output[variable], values, { atol: variant.atol, rtol: 0, label: `${variant.options.convention} ${variable}` });
        }
        expect(other.clipped).toBe(variant.expected.clipped);
        // The exact answer [3, 4] must fail the torch expectation, so the tolerance stays meaningful.
        expect(() => assertAllClose(input.grads['a'], variant.expected.grads['a'], { atol: variant.atol, rtol: 0 })).toThrow();
      }
    });
  }

  it('B07 finite gradients whose squares overflow float32', () => {
    const entry = subcase('B07', 'finite grads whose sum of squares overflows float32');
    const input = entry['input'] as { grads: Record<string, unknown>; maxNorm: number };
    const expected = entry['expected'] as { grads: Record<string, unknown>; preClipNorm: number };
    const result = clipValues(input.grads, input.maxNorm);
    assertAllClose(result.normBefore, expected.preClipNorm, { rtol: entry['relative_tolerance_for_norm'] as number, atol: 0 });
    assertAllClose(result.output['a'], expected.grads['a'], { atol: entry['tolerance'] as number, rtol: 0 });
  });

  it('B07 infinite entry: unchanged, reported, and refused by the guard', () => {
    const entry = subcase('B07', 'infinite entry');
    const input = entry['input'] as { grads: Record<string, unknown>; maxNorm: number };
    const expected = fromSpec(entry['expected']) as { grads: Record<string, number[]>; preClipNorm: number; nonFiniteDetected: boolean };
    const result = clipValues(input.grads, input.maxNorm);
    expect(result.normBefore).toBe(expected.preClipNorm);
    expect(result.nonFiniteDetected).toBe(expected.nonFiniteDetected);
    assertAllClose(result.output['a'], expected.grads['a']);
    const plugin = runOnGradients([clipGlobalNorm({ maxNorm: input.maxNorm })], input.grads);
    expect(plugin.applied).toBe(false);
    expect(plugin.error).toMatchObject({ code: ErrorCode.ERR_GRADIENT_NONFINITE });
    expect(plugin.clips).toEqual([]);
  });

  it('B08 empty map', () => {
    const entry = subcase('B08', 'empty map');
    const input = entry['input'] as { maxNorm: number };
    const result = clipValues({}, input.maxNorm);
    expect(result.output).toEqual({});
    expect(result.normBefore).toBe((entry['expected'] as { preClipNorm: number }).preClipNorm);
  });

  for (const name of ['zero-size tensor next to a normal one, L2', 'zero-size tensor, inf-norm']) {
    it(`B08 ${name}`, () => {
      const entry = subcase('B08', name);
      const input = entry['input'] as { grads: Record<string, unknown>; maxNorm: number; normType?: NormType };
      const expected = entry['expected'] as { grads: Record<string, unknown>; preClipNorm: number };
      const inputs = Object.fromEntries(
        Object.entries(input.grads).map(([variable, value]) => [
          variable,
          Array.isArray(value) ? tf.tensor(value) : tf.tensor((value as { values: number[] }).values, (value as { shape: number[] }).shape),
        ]),
      );
      const clip = clipByGlobalNorm(inputs, input.maxNorm, input.normType === undefined ? {} : { normType: input.normType });
      expect(readClip(clip).normBefore).toBeCloseTo(expected.preClipNorm, 5);
      expect(clip.gradients['e']!.shape).toEqual([0]);
      assertAllClose(clip.gradients['b']!, expected.grads['b'], { atol: entry['tolerance'] as number, rtol: 0 });
      tf.dispose([...Object.values(inputs), ...(Object.values(clip.gradients) as tf.Tensor[]), clip.norm, clip.scale]);
    });
  }

  it('B08 gradients given as a one-shot generator', () => {
    const entry = subcase('B08', 'gradients given as a one-shot iterator/generator');
    const expected = entry['expected'] as { grads: Record<string, unknown> };
    const tensor = tf.tensor1d([3, 4]);
    function* once(): Generator<[string, tf.Tensor]> {
      yield ['a', tensor];
    }
    const clip = clipByGlobalNorm(once(), (entry['input'] as { maxNorm: number }).maxNorm);
    assertAllClose(clip.gradients['a']!, expected.grads['a']);
    tf.dispose([tensor, clip.gradients['a']!, clip.norm, clip.scale]);
  });

  it('B09 global clipping keeps the direction', () => {
    const entry = regressionEntry('B09');
    const input = entry['input'] as { grads: Record<string, unknown>; maxNorm: number };
    const expected = (entry['expected'] as Record<string, { preClipNorm: number; grads: Record<string, unknown> }>)['clip-global-norm']!;
    const result = clipValues(input.grads, input.maxNorm);
    expect(result.normBefore).toBeCloseTo(expected.preClipNorm, 5);
    for (const [variable, values] of Object.entries(expected.grads)) {
      assertAllClose(result.output[variable], values, { atol: entry['atol'] as number, rtol: entry['rtol'] as number, label: variable });
    }
  });
});

/** Returns the only subcase of a regression case that has no name. */
function regressionEntry(id: string): Record<string, unknown> {
  return regressionCase(id).subcases![0]!;
}

describe('clip-global-norm plugin', () => {
  it('clips only the variables it selects', () => {
    const result = runOnGradients([clipGlobalNorm({ maxNorm: 1, variables: ['**/a'] })], { a: [3, 4], b: [0, 12] });
    assertAllClose(result.output['a'], [0.6, 0.8]);
    expect(result.output['b']).toEqual([0, 12]);
  });

  it('reports norms before and after', () => {
    const result = runOnGradients([clipGlobalNorm({ maxNorm: 1 })], { a: [3, 4] });
    expect(result.clips).toHaveLength(1);
    expect(result.clips[0]).toMatchObject({ plugin: 'clip-global-norm', clipped: true, nonFiniteDetected: false });
    expect(result.clips[0]!.normBefore).toBeCloseTo(5, 5);
    expect(result.clips[0]!.normAfter).toBeCloseTo(1, 5);
  });

  it('rejects a non-positive maxNorm and a bad norm type', () => {
    expect(() => clipGlobalNorm({ maxNorm: 0 })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/maxNorm' }));
    expect(() => clipGlobalNorm({ maxNorm: -1 })).toThrowError(expect.objectContaining({ path: '/maxNorm' }));
    expect(() => clipGlobalNorm({} as never)).toThrowError(expect.objectContaining({ path: '/maxNorm' }));
    expect(() => clipGlobalNorm({ maxNorm: 1, normType: 3 as never })).toThrowError(expect.objectContaining({ path: '/normType' }));
  });

  it('leaks no tensor in the pure function', async () => {
    const a = tf.tensor1d([3, 4]);
    await assertNoLeak(() => {
      const clip = clipByGlobalNorm({ a }, 1);
      tf.dispose([clip.gradients['a']!, clip.norm, clip.scale]);
      const norm = globalNorm([a], 'inf');
      norm.dispose();
    });
    a.dispose();
  });
});
