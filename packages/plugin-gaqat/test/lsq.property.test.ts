import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { integerRange, lsqQuantize } from '@gradhooks/plugin-gaqat';
import type { IntegerRange } from '@gradhooks/plugin-gaqat';
import { assertAllClose } from '@gradhooks/testing';

/** Closest a sample may come to a rounding or clip boundary, in units of v = x/s. */
const MARGIN = 0.02;
/** Finite-difference step relative to s, times MARGIN: small enough that no v = x/s crosses a boundary. */
const STEP = 1e-4;

/** One sample of v = x/s: an integer level k in or beyond the range, and an offset from it in thousandths. */
const level = fc.record({ k: fc.integer({ min: -3, max: 3 }), position: fc.double({ min: 0, max: 1, noNaN: true }), thousandths: fc.integer({ min: -460, max: 460 }) });

const cases = fc
  .record({
    bits: fc.integer({ min: 2, max: 8 }),
    signed: fc.boolean(),
    step: fc.double({ min: 0.05, max: 2, noNaN: true }).map(Math.fround),
    levels: fc.array(level, { minLength: 1, maxLength: 12 }),
    upstream: fc.array(fc.double({ min: -2, max: 2, noNaN: true }).map(Math.fround), { minLength: 12, maxLength: 12 }),
  })
  .map(({ bits, signed, step, levels, upstream }) => {
    const range = integerRange(bits, signed);
    const x = levels.map(({ k, position, thousandths }) => {
      // k = 0 picks a level inside the range through position; other k pick levels at or beyond a clip boundary.
      let integer = Math.round(-range.negative + position * (range.negative + range.positive));
      if (k < 0) {
        integer = -range.negative + k + 1;
      } else if (k > 0) {
        integer = range.positive + k - 1;
      }
      let offset = thousandths / 1000;
      // Keep v off the clip boundaries; the offsets already stay off the rounding boundaries k + 0.5.
      if ((integer === -range.negative || integer === range.positive) && Math.abs(offset) < 2 * MARGIN) {
        offset = offset < 0 ? offset - 2 * MARGIN : offset + 2 * MARGIN;
      }
      return Math.fround((integer + offset) * step);
    });
    return { range, step, x, upstream: upstream.slice(0, x.length) };
  });

function clip(v: number, range: IntegerRange): number {
  return Math.min(Math.max(v, -range.negative), range.positive);
}

/** True when v is at least MARGIN away from every rounding boundary (k + 0.5) and both clip boundaries. */
function awayFromBoundaries(x: readonly number[], step: number, range: IntegerRange): boolean {
  return x.every((value) => {
    const v = value / step;
    const clipped = clip(v, range);
    const fraction = Math.abs(clipped - Math.floor(clipped) - 0.5);
    return fraction > MARGIN && Math.abs(v + range.negative) > MARGIN && Math.abs(v - range.positive) > MARGIN;
  });
}

/** Computes the quantizer's forward pass in float64: Σ dy·round(clip(x/s))·s. */
function quantizedSum(x: readonly number[], step: number, upstream: readonly number[], range: IntegerRange): number {
  return x.reduce((total, value, i) => total + upstream[i]! * Math.round(clip(value / step, range)) * step, 0);
}

function gradients(x: readonly number[], step: number, upstream: readonly number[], range: IntegerRange): { dx: number[]; ds: number } {
  return tf.tidy(() => {
    const gradient = tf.grads((input: tf.Tensor, scale: tf.Tensor) => tf.sum(tf.mul(lsqQuantize(input, scale, { range, gradientScale: 1 }), tf.tensor1d([...upstream]))));
    const [dx, ds] = gradient([tf.tensor1d([...x]), tf.scalar(step)]);
    return { dx: Array.from(dx!.dataSync()), ds: ds!.dataSync()[0]! };
  });
}

describe('LSQ quantizer against finite differences', () => {
  it('step gradient is the derivative of the straight-through surrogate', () => {
    // With round(v) - v frozen at the base point as a constant C, the surrogate s·(clip(x/s) + C)
    // is smooth in s away from the clip boundaries; LSQ's step gradient is its derivative.
    fc.assert(
      fc.property(cases, ({ range, step, x, upstream }) => {
        fc.pre(awayFromBoundaries(x, step, range));
        const offsets = x.map((value) => Math.round(clip(value / step, range)) - clip(value / step, range));
        const surrogate = (s: number) => x.reduce((total, value, i) => total + upstream[i]! * s * (clip(value / s, range) + offsets[i]!), 0);
        const h = STEP * step * MARGIN;
        const difference = (surrogate(step + h) - surrogate(step - h)) / (2 * h);
        const { ds } = gradients(x, step, upstream, range);
        assertAllClose(ds, difference, { rtol: 1e-4, atol: 1e-4, label: 'ds against the surrogate' });
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it('step gradient plus the pass-through term equals the true derivative', () => {
    // Away from rounding boundaries x̂ = round(clip(v))·s is linear in s, with slope round(clip(v)).
    // LSQ replaces that slope by round(v) - v inside the range, so the two differ by Σ_inside dy·v.
    fc.assert(
      fc.property(cases, ({ range, step, x, upstream }) => {
        fc.pre(awayFromBoundaries(x, step, range));
        const h = STEP * step * MARGIN;
        const trueDerivative = (quantizedSum(x, step + h, upstream, range) - quantizedSum(x, step - h, upstream, range)) / (2 * h);
        const passThrough = x.reduce((total, value, i) => {
          const v = value / step;
          return v >= -range.negative && v <= range.positive ? total + upstream[i]! * v : total;
        }, 0);
        const { ds } = gradients(x, step, upstream, range);
        assertAllClose(ds + passThrough, trueDerivative, { rtol: 1e-4, atol: 1e-4, label: 'ds + Σ dy·v' });
      }),
      { numRuns: 60, seed: 12 },
    );
  });

  it('input gradient is the derivative of s·clip(x/s)', () => {
    fc.assert(
      fc.property(cases, ({ range, step, x, upstream }) => {
        fc.pre(awayFromBoundaries(x, step, range));
        const { dx } = gradients(x, step, upstream, range);
        x.forEach((value, i) => {
          const h = STEP * step;
          const passThrough = (t: number) => step * clip(t / step, range);
          const difference = (upstream[i]! * (passThrough(value + h) - passThrough(value - h))) / (2 * h);
          assertAllClose(dx[i]!, difference, { rtol: 1e-4, atol: 1e-5, label: `dx[${i}]` });
        });
      }),
      { numRuns: 60, seed: 13 },
    );
  });

  it('forward matches the float64 quantizer', () => {
    fc.assert(
      fc.property(cases, ({ range, step, x, upstream }) => {
        fc.pre(awayFromBoundaries(x, step, range));
        const forward = tf.tidy(() => tf.sum(tf.mul(lsqQuantize(tf.tensor1d(x), tf.scalar(step), { range, gradientScale: 1 }), tf.tensor1d(upstream))).dataSync()[0]!);
        assertAllClose(forward, quantizedSum(x, step, upstream, range), { rtol: 1e-5, atol: 1e-4, label: 'Σ dy·x̂' });
      }),
      { numRuns: 60, seed: 14 },
    );
  });
});

describe('LSQ quantizer invariants', () => {
  it('outputs lie on the grid and requantize to themselves', () => {
    fc.assert(
      fc.property(cases, ({ range, step, x }) => {
        tf.tidy(() => {
          const settings = { range, gradientScale: 1 };
          const once = lsqQuantize(tf.tensor1d(x), tf.scalar(step), settings);
          const twice = lsqQuantize(once, tf.scalar(step), settings);
          const levels = Array.from(tf.div(once, step).dataSync());
          for (const level of levels) {
            expect(Math.abs(level - Math.round(level))).toBeLessThan(1e-3);
            expect(level).toBeGreaterThanOrEqual(-range.negative - 1e-3);
            expect(level).toBeLessThanOrEqual(range.positive + 1e-3);
          }
          // Adding 0 turns -0 into 0: the two are the same level.
          expect(Array.from(twice.dataSync(), (value) => value + 0)).toEqual(Array.from(once.dataSync(), (value) => value + 0));
        });
      }),
      { numRuns: 60, seed: 15 },
    );
  });
});
