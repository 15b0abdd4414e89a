import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import type { DryRunEvent } from '@gradhooks/core';
import { aggregateJacobians, assertAllClose, assertFinite, sampleMatrix } from '@gradhooks/testing';

import { GRADIENT_NOISE, gradientNoise, noiseVariance } from '../src/index.js';
import { recorder, uniquePrefix } from './harness.js';

const SIZE = 20_000;
const zeros = [new Array<number>(SIZE).fill(0)];

function mean(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

function variance(values: readonly number[]): number {
  const center = mean(values);
  return values.reduce((total, value) => total + (value - center) ** 2, 0) / (values.length - 1);
}

describe('noiseVariance schedule', () => {
  it('worked example with eta 0.3', () => {
    expect(noiseVariance(0.3, 0.55, 0)).toBe(0.3);
    // 2^0.55 = 1.46408569..., so 0.3 / 1.46408569 = 0.20490601...
    expect(noiseVariance(0.3, 0.55, 1)).toBeCloseTo(0.204906, 6);
    // 100^0.55 = 10^1.1 = 12.5892541..., so 0.3 / 12.5892541 = 0.02382985...
    expect(noiseVariance(0.3, 0.55, 99)).toBeCloseTo(0.02382985, 8);
  });

  it('gamma 0 keeps the variance constant', () => {
    for (const step of [0, 1, 10, 1e6]) {
      expect(noiseVariance(1, 0, step)).toBe(1);
    }
  });

  it('decreases strictly from step to step', () => {
    for (let step = 0; step < 50; step++) {
      expect(noiseVariance(0.01, 0.55, step + 1)).toBeLessThan(noiseVariance(0.01, 0.55, step));
    }
  });
});

describe('gradient-noise plugin', () => {
  it('sample variance follows the schedule', () => {
    const steps = aggregateJacobians(gradientNoise({ eta: 0.3, seed: 5 }), [zeros, zeros, zeros, zeros]);

    steps.forEach((step, t) => {
      const expected = noiseVariance(0.3, 0.55, t);
      assertFinite(tf.tensor1d(step.output), `noise of step ${t}`);
      // The sample variance of n normal draws has a relative standard error of sqrt(2 / n), 1% here; 5% is five of those.
      expect(Math.abs(variance(step.output) / expected - 1)).toBeLessThan(0.05);
      // The sample mean has standard error sqrt(expected / n); allow five of those.
      expect(Math.abs(mean(step.output))).toBeLessThan(5 * Math.sqrt(expected / SIZE));
      expect(step.applied).toBe(true);
    });
  });

  it('reports its step and variance', () => {
    const steps = aggregateJacobians(gradientNoise({ eta: 1, seed: 5 }), [zeros, zeros, zeros]);
    const states = steps.map((step) => step.states.map((event) => ({ plugin: event.plugin, values: event.values })));

    expect(states).toEqual([0, 1, 2].map((t) => [{ plugin: GRADIENT_NOISE, values: { noiseStep: t, variance: noiseVariance(1, 0.55, t) } }]));
  });

  it('same seed gives the same noise', () => {
    const jacobian = sampleMatrix(11, { rows: 1, columns: 64 });
    const first = aggregateJacobians(gradientNoise({ eta: 0.3, seed: 9 }), [jacobian, jacobian]);
    const second = aggregateJacobians(gradientNoise({ eta: 0.3, seed: 9 }), [jacobian, jacobian]);
    const other = aggregateJacobians(gradientNoise({ eta: 0.3, seed: 10 }), [jacobian, jacobian]);

    expect(second.map((step) => step.output)).toEqual(first.map((step) => step.output));
    expect(other[0]!.output).not.toEqual(first[0]!.output);
    // The generator advances between steps, so two steps never repeat their noise.
    expect(first[1]!.output).not.toEqual(first[0]!.output);
  });

  it('adds the noise to the gradient', () => {
    const jacobian = sampleMatrix(12, { rows: 1, columns: 256, scale: 3 });
    const noise = aggregateJacobians(gradientNoise({ eta: 0.01, seed: 4 }), [[new Array<number>(256).fill(0)]])[0]!.output;
    const noisy = aggregateJacobians(gradientNoise({ eta: 0.01, seed: 4 }), [jacobian])[0]!.output;

    const expected = jacobian[0]!.map((value, i) => Math.fround(value + noise[i]!));
    assertAllClose(noisy, expected, { rtol: 0, atol: 0, label: 'gradient plus noise' });
  });

  it('touches only matching variables and keeps nulls', () => {
    const prefix = uniquePrefix('select');
    const [noisy, plain, unused] = tf.tidy(() => [
      tf.variable(tf.zeros([100]), true, `${prefix}/noisy/w`),
      tf.variable(tf.zeros([100]), true, `${prefix}/plain/w`),
      tf.variable(tf.zeros([3]), true, `${prefix}/unused/w`),
    ]);
    const record = recorder();
    const optimizer = new HookedOptimizer(tf.train.sgd(0), {
      plugins: [gradientNoise({ eta: 1, seed: 2, variables: ['*/noisy/**'] }), record.plugin],
    });
    const gradient = Array.from({ length: 100 }, (_, i) => i / 10);
    try {
      optimizer.step(
        {
          loss: {
            gradients: () => ({
              value: tf.scalar(0),
              grads: { [noisy.name]: tf.tensor1d(gradient), [plain.name]: tf.tensor1d(gradient), [unused.name]: null },
            }),
          },
        },
        { variables: [noisy, plain, unused] },
      );
      const step = record.steps[0]!;
      expect(Object.keys(step)).toEqual([noisy.name, plain.name, unused.name]);
      expect(step[plain.name]).toEqual(gradient.map(Math.fround));
      expect(step[noisy.name]).not.toEqual(gradient.map(Math.fround));
      expect(step[unused.name]).toBeNull();
    } finally {
      optimizer.dispose();
      tf.dispose([noisy, plain, unused]);
    }
  });

  it('dry run reports the change and applies nothing', () => {
    const jacobian = sampleMatrix(13, { rows: 1, columns: 1000 });
    const steps = aggregateJacobians(gradientNoise({ eta: 1, seed: 3, dryRun: true }), [jacobian]);
    const events: DryRunEvent[] = steps[0]!.dryRuns;

    assertAllClose(steps[0]!.output, jacobian[0]!, { rtol: 0, atol: 0, label: 'dry-run output' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ plugin: GRADIENT_NOISE, hook: 'gradients' });
    // The noise has norm about sqrt(1000), so it changes the gradient by far more than its own norm.
    const gradientNorm = Math.sqrt(jacobian[0]!.reduce((total, value) => total + value * value, 0));
    expect(events[0]!.relativeChange).toBeGreaterThan(Math.sqrt(1000) / gradientNorm / 2);
  });

  it('rejects invalid options naming the option', () => {
    expect(() => gradientNoise({ eta: 0 })).toThrow(/'\/eta'.*> 0/);
    expect(() => gradientNoise({ gamma: -1 })).toThrow(/'\/gamma'.*>= 0/);
    expect(() => gradientNoise({ sigma: 1 } as never)).toThrow(/sigma/);
  });
});
