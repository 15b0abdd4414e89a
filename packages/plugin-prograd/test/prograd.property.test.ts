import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { prograd, progradDirection } from '@gradhooks/plugin-prograd';
import { assertAllClose } from '@gradhooks/testing';

import { referenceProgradVector, runSteps } from './harness.js';

type Vector = number[];

/** Float32 entries that are zero or between 1e-3 and 10 in magnitude. */
const entry = fc.oneof(
  fc.constant(0),
  fc.tuple(fc.double({ min: 1e-3, max: 10, noNaN: true }), fc.boolean()).map(([value, negative]) => Math.fround(negative ? -value : value)),
);
const vectorOf = (size: number) => fc.array(entry, { minLength: size, maxLength: size });
const pair = fc.integer({ min: 1, max: 8 }).chain((size) => fc.tuple(vectorOf(size), vectorOf(size)));
const lambdas = fc.constantFrom(0, 0.3, 0.8, 1, 1.5);

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((total, value, i) => total + value * b[i]!, 0);
const norm = (a: readonly number[]) => Math.sqrt(dot(a, a));

/** Runs progradDirection on one pair of vectors and reads the result back; checks that nothing leaks. */
function projectionOf(task: Vector, general: Vector, lambda: number): { projected: Vector; conflict: boolean } {
  const start = tf.memory().numTensors;
  const result = tf.tidy(() => {
    const output = progradDirection([tf.tensor1d(task)], [tf.tensor1d(general)], lambda);
    return { projected: Array.from(output.projected[0]!.dataSync()), conflict: output.conflict.dataSync()[0] === 1 };
  });
  expect(tf.memory().numTensors).toBe(start);
  return result;
}

describe('prograd properties', () => {
  it('changes nothing without conflict', () => {
    fc.assert(
      fc.property(pair, lambdas, ([task, general], lambda) => {
        fc.pre(dot(task, general) >= 1e-4 * norm(task) * norm(general));
        const result = projectionOf(task, general, lambda);
        expect(result.conflict).toBe(false);
        result.projected.forEach((value, i) => expect(value === task[i]).toBe(true));
      }),
      { numRuns: 300, seed: 21 },
    );
  });

  it('removes lambda of the conflicting component', () => {
    fc.assert(
      fc.property(pair, lambdas, ([task, general], lambda) => {
        const product = dot(task, general);
        fc.pre(product < -1e-4 * norm(task) * norm(general));
        const result = projectionOf(task, general, lambda);
        expect(result.conflict).toBe(true);
        // After the projection ⟨g', g_general⟩ = (1 − λ)·⟨g, g_general⟩: orthogonal at λ = 1.
        const after = dot(result.projected, general);
        expect(Math.abs(after - (1 - lambda) * product)).toBeLessThanOrEqual(1e-5 * norm(task) * norm(general) + 1e-9);
        // The change is along the general gradient.
        const change = result.projected.map((value, i) => value - task[i]!);
        expect(Math.abs(dot(change, general))).toBeCloseTo(norm(change) * norm(general), 3);
      }),
      { numRuns: 300, seed: 22 },
    );
  });

  it('stays finite with zero gradients', () => {
    fc.assert(
      fc.property(pair, fc.boolean(), fc.boolean(), lambdas, ([task, general], zeroTask, zeroGeneral, lambda) => {
        const g = zeroTask ? task.map(() => 0) : task;
        const k = zeroGeneral ? general.map(() => 0) : general;
        const result = projectionOf(g, k, lambda);
        expect(result.projected.every(Number.isFinite)).toBe(true);
        if (zeroTask || zeroGeneral) {
          expect(result.conflict).toBe(false);
          expect(result.projected).toEqual(g);
        }
      }),
      { numRuns: 200, seed: 23 },
    );
  });

  it('is linear in the task scale, from 1e-30 to 1e30', () => {
    fc.assert(
      fc.property(pair, fc.constantFrom(1e-30, 1e-20, 1e20, 1e30), fc.constantFrom(1e-30, 1, 1e30), ([task, general], taskScale, generalScale) => {
        const base = projectionOf(task, general, 1).projected;
        const scaledTask = task.map((value) => Math.fround(value * taskScale));
        const scaledGeneral = general.map((value) => Math.fround(value * generalScale));
        const result = projectionOf(scaledTask, scaledGeneral, 1).projected;
        expect(result.every(Number.isFinite)).toBe(true);
        const magnitude = Math.max(...task.map(Math.abs)) * taskScale;
        assertAllClose(result, base.map((value) => value * taskScale), { rtol: 1e-4, atol: 1e-4 * magnitude + 1e-44 });
      }),
      { numRuns: 60, seed: 24 },
    );
  });

  it('matches float64 per variable', () => {
    fc.assert(
      fc.property(fc.tuple(pair, pair, pair), lambdas, (variables, lambda) => {
        const names = ['a', 'b', 'c'];
        const [run] = runSteps(
          [prograd({ task: 'task', general: 'general', lambda })],
          [
            {
              task: Object.fromEntries(variables.map(([task], i) => [names[i]!, task])),
              general: Object.fromEntries(variables.map(([, general], i) => [names[i]!, general])),
            },
          ],
        );
        variables.forEach(([task, general], i) => {
          const magnitude = Math.max(1, ...task.map(Math.abs));
          assertAllClose(run!.output[names[i]!], referenceProgradVector(task, general, lambda), { rtol: 1e-4, atol: 1e-5 * magnitude, label: names[i] });
        });
      }),
      { numRuns: 60, seed: 25 },
    );
  });
});
