import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { bloopDirection, emaBloop } from '@gradhooks/plugin-bloop';
import type { BloopSettings } from '@gradhooks/plugin-bloop';
import { assertAllClose } from '@gradhooks/testing';

import { referenceBloop, runSteps } from './harness.js';

type Vector = number[];

/** Float32 entries that are zero or between 1e-3 and 10 in magnitude. */
const entry = fc.oneof(
  fc.constant(0),
  fc.tuple(fc.double({ min: 1e-3, max: 10, noNaN: true }), fc.boolean()).map(([value, negative]) => Math.fround(negative ? -value : value)),
);

const vectorOf = (size: number) => fc.array(entry, { minLength: size, maxLength: size });

/** Main gradient, auxiliary gradient and previous EMA of one size from 1 to 8. */
const triple = fc.integer({ min: 1, max: 8 }).chain((size) => fc.tuple(vectorOf(size), vectorOf(size), vectorOf(size)));

const settings = fc.record({
  ema: fc.constantFrom(0, 0.01, 0.1, 0.5, 1),
  lambda: fc.constantFrom(0.01, 0.1, 0.5, 1, 3),
  eps: fc.constant(1e-7),
});

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((total, value, i) => total + value * b[i]!, 0);
const norm = (a: readonly number[]) => Math.sqrt(dot(a, a));

/** Runs bloopDirection on plain arrays inside tf.tidy and reads everything back. */
function directionOf(main: Vector, auxiliary: Vector, ema: Vector, options: BloopSettings, auxiliaryEma?: Vector) {
  return tf.tidy(() => {
    const result = bloopDirection(
      {
        main: [tf.tensor1d(main)],
        auxiliary: [tf.tensor1d(auxiliary)],
        mainEma: [tf.tensor1d(ema)],
        ...(auxiliaryEma === undefined ? {} : { auxiliaryEma: [tf.tensor1d(auxiliaryEma)] }),
      },
      options,
    );
    return {
      direction: Array.from(result.direction[0]!.dataSync()),
      mainEma: Array.from(result.mainEma[0]!.dataSync()),
      ratio: result.ratio.dataSync()[0]!,
      finite: result.finite.dataSync()[0] === 1,
    };
  });
}

describe('ema-bloop properties', () => {
  it('adds an auxiliary part orthogonal to the EMA', () => {
    fc.assert(
      fc.property(triple, settings, ([main, auxiliary, ema], options) => {
        const start = tf.memory().numTensors;
        const result = directionOf(main, auxiliary, ema, { ...options, variant: 'bloop' });
        expect(tf.memory().numTensors).toBe(start);
        const projected = result.direction.map((value, i) => (value - main[i]!) / options.lambda);
        const emaNorm = norm(result.mainEma);
        // Exactly: ⟨π, e⟩ = ⟨g_aux, e⟩·ε/(‖e‖² + ε). The rest is float32 rounding, relative to the largest terms.
        const residue = (Math.abs(dot(auxiliary, result.mainEma)) * options.eps) / (emaNorm ** 2 + options.eps);
        const magnitude = (norm(auxiliary) + Math.max(...main.map(Math.abs)) / options.lambda) * emaNorm;
        expect(Math.abs(dot(projected, result.mainEma))).toBeLessThanOrEqual(residue + 1e-5 * magnitude + 1e-12);
      }),
      { numRuns: 200, seed: 11 },
    );
  });

  it('updates the EMA before projecting', () => {
    fc.assert(
      fc.property(triple, settings, ([main, auxiliary, ema], options) => {
        const result = directionOf(main, auxiliary, ema, { ...options, variant: 'bloop' });
        const expected = ema.map((value, i) => value + options.ema * (main[i]! - value));
        assertAllClose(result.mainEma, expected, { rtol: 1e-5, atol: 1e-5 });
      }),
      { numRuns: 100, seed: 12 },
    );
  });

  it('caps the barrier ratio at 1/lambda', () => {
    fc.assert(
      fc.property(triple, settings, ([main, auxiliary, ema], options) => {
        const capped = directionOf(main, auxiliary, ema, { ...options, variant: 'dynamic-barrier' });
        const free = directionOf(main, auxiliary, ema, { ...options, variant: 'bloop' });
        expect(capped.ratio).toBeLessThanOrEqual(Math.fround(1 / options.lambda) * (1 + 1e-6));
        if (free.ratio <= 1 / options.lambda) {
          expect(capped.direction).toEqual(free.direction);
        }
      }),
      { numRuns: 100, seed: 13 },
    );
  });

  it('leaves ema-pcgrad unchanged without conflict', () => {
    fc.assert(
      fc.property(triple, vectorOf(8), settings, ([main, auxiliary, ema], auxiliaryEmaSource, options) => {
        const auxiliaryEma = auxiliaryEmaSource.slice(0, main.length);
        const mainEma = ema.map((value, i) => value + options.ema * (main[i]! - value));
        const nextAuxiliaryEma = auxiliaryEma.map((value, i) => value + options.ema * (auxiliary[i]! - value));
        // Leave out near-orthogonal pairs, whose sign float32 may not reproduce.
        const scale = (norm(mainEma) + norm(nextAuxiliaryEma)) * (norm(main) + norm(auxiliary));
        fc.pre(dot(mainEma, auxiliary) > 1e-4 * scale && dot(nextAuxiliaryEma, main) > 1e-4 * scale);
        const result = directionOf(main, auxiliary, ema, { ...options, variant: 'ema-pcgrad' }, auxiliaryEma);
        // No projection on either side: d = g_main + λ·g_aux.
        assertAllClose(result.direction, main.map((value, i) => value + options.lambda * auxiliary[i]!), { rtol: 1e-6, atol: 1e-7 });
      }),
      { numRuns: 300, seed: 14 },
    );
  });

  it('stays finite with zero gradients or EMA', () => {
    const zeroOr = (vector: Vector, zero: boolean) => (zero ? vector.map(() => 0) : vector);
    fc.assert(
      fc.property(triple, fc.boolean(), fc.boolean(), fc.boolean(), settings, ([main, auxiliary, ema], zeroMain, zeroAuxiliary, zeroEma, options) => {
        const g = zeroOr(main, zeroMain);
        const a = zeroOr(auxiliary, zeroAuxiliary);
        const e = zeroOr(ema, zeroEma);
        for (const variant of ['bloop', 'dynamic-barrier', 'ema-pcgrad'] as const) {
          const result = directionOf(g, a, e, { ...options, variant }, variant === 'ema-pcgrad' ? e : undefined);
          expect(result.direction.every(Number.isFinite)).toBe(true);
          expect(result.finite).toBe(true);
          if (zeroEma && (zeroMain || options.ema === 0) && variant !== 'ema-pcgrad') {
            // e = 0: r = 0/ε = 0 and the update is g + λ·g_aux.
            assertAllClose(result.direction, g.map((value, i) => value + options.lambda * a[i]!), { rtol: 1e-6, atol: 1e-6 });
          }
        }
      }),
      { numRuns: 100, seed: 15 },
    );
  });

  it('stays finite from 1e-30 to 1e30', () => {
    fc.assert(
      fc.property(triple, fc.constantFrom(1e-30, 1e-20, 1e20, 1e30), ([main, auxiliary, ema], scale) => {
        const scaled = (vector: Vector) => vector.map((value) => Math.fround(value * scale));
        const result = directionOf(scaled(main), scaled(auxiliary), scaled(ema), { ema: 0.1, lambda: 0.1, eps: 1e-7, variant: 'bloop' });
        expect(result.direction.every(Number.isFinite)).toBe(true);
        expect(result.mainEma.every(Number.isFinite)).toBe(true);
        expect(result.finite).toBe(true);
      }),
      { numRuns: 100, seed: 16 },
    );
  });

  it('matches float64 over several steps', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }).chain((size) => fc.array(fc.tuple(vectorOf(size), vectorOf(size)), { minLength: 1, maxLength: 5 })),
        settings,
        fc.constantFrom('bloop', 'dynamic-barrier', 'ema-pcgrad'),
        fc.constantFrom('grad', 'zeros'),
        async (sequence, options, variant, init) => {
          const full = { ...options, variant, init } as const;
          const runs = await runSteps(
            [emaBloop({ main: 'main', auxiliary: 'aux', ...full })],
            sequence.map(([main, auxiliary]) => ({ main: { w: main }, aux: { w: auxiliary } })),
          );
          const expected = referenceBloop(sequence.map(([main, auxiliary]) => ({ main, auxiliary })), full);
          runs.forEach((run, t) => {
            const magnitude = Math.max(1, ...expected[t]!.direction.map(Math.abs), ...sequence[t]!.flat().map(Math.abs));
            assertAllClose(run.output['w'], expected[t]!.direction, { rtol: 1e-4, atol: 1e-4 * magnitude, label: `direction ${t}` });
            assertAllClose(run.emas['main']!['w'], expected[t]!.mainEma, { rtol: 1e-5, atol: 1e-5 * magnitude, label: `EMA ${t}` });
          });
        },
      ),
      { numRuns: 40, seed: 17 },
    );
  });
});
