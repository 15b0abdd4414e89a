import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { evaluateAtPerturbedWeights, sharpnessPerturbation } from '@gradhooks/plugin-gaqat';
import { assertAllClose } from '@gradhooks/testing';

import { uniquePrefix } from './harness.js';

const entry = fc.double({ min: -10, max: 10, noNaN: true }).map(Math.fround);
const vectors = fc.array(fc.array(entry, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 });
const settings = fc.record({ rho: fc.double({ min: 1e-3, max: 2, noNaN: true }), adaptive: fc.boolean(), eta: fc.double({ min: 0, max: 0.1, noNaN: true }) });

function bits(variable: tf.Variable): number[] {
  return Array.from(new Uint32Array(Float32Array.from(variable.dataSync()).buffer));
}

describe('sharpness perturbation properties', () => {
  it('has radius rho in its own metric', () => {
    fc.assert(
      fc.property(vectors, vectors, settings, (gradientValues, weightValues, options) => {
        tf.tidy(() => {
          const names = gradientValues.map((_, i) => `v${i}`);
          const gradients = Object.fromEntries(gradientValues.map((values, i) => [names[i]!, tf.tensor1d(values)]));
          const weights = Object.fromEntries(gradientValues.map((values, i) => [names[i]!, tf.tensor1d(values.map((_, j) => weightValues[i % weightValues.length]![j % weightValues[i % weightValues.length]!.length]!))]));
          const epsilon = sharpnessPerturbation(gradients, weights, options);
          // Plain: ‖ε‖ = ρ. Adaptive: ‖ε / T‖ = ρ with T = |w| + η (ε is 0 where T is 0).
          const scaled = names.map((name) => (options.adaptive ? tf.divNoNan(epsilon[name]!, tf.add(tf.abs(weights[name]!), options.eta)) : epsilon[name]!));
          const norm = tf.sqrt(tf.addN(scaled.map((tensor) => tf.sum(tf.square(tensor))))).dataSync()[0]!;
          const gradientNorm = tf.sqrt(tf.addN(names.map((name) => tf.sum(tf.square(tf.mul(gradients[name]!, options.adaptive ? tf.add(tf.abs(weights[name]!), options.eta) : 1)))))).dataSync()[0]!;
          if (gradientNorm > 1e-3) {
            assertAllClose(norm, options.rho, { rtol: 1e-4, atol: 0, label: 'radius' });
          } else {
            expect(norm).toBeLessThanOrEqual(options.rho * (1 + 1e-4));
          }
          for (const name of names) {
            expect(Array.from(epsilon[name]!.dataSync()).every(Number.isFinite)).toBe(true);
          }
        });
      }),
      { numRuns: 80, seed: 31 },
    );
  });

  it('restores the exact bits and reaches w + epsilon', () => {
    fc.assert(
      fc.property(vectors, settings, (values, options) => {
        const prefix = uniquePrefix('shp');
        const variables = values.map((row, i) => tf.tidy(() => tf.variable(tf.tensor1d(row), true, `${prefix}/v${i}`)));
        try {
          const before = variables.map(bits);
          tf.tidy(() => {
            // L(w) = 0.5 Σ w², so ∇L(w + ε) = w + ε.
            const loss = () => tf.mul(0.5, tf.addN(variables.map((variable) => tf.sum(tf.square(variable))))) as tf.Scalar;
            const atWeights = tf.variableGrads(loss, variables);
            const perturbed = evaluateAtPerturbedWeights({ loss }, variables, atWeights.grads, options, () => true);
            const epsilon = sharpnessPerturbation(
              atWeights.grads as Record<string, tf.Tensor>,
              Object.fromEntries(variables.map((variable) => [variable.name, variable])),
              options,
            );
            for (const variable of variables) {
              assertAllClose(perturbed.grads[variable.name]!, Array.from(tf.add(variable, epsilon[variable.name]!).dataSync()), { rtol: 1e-5, atol: 1e-5, label: variable.name });
            }
          });
          expect(variables.map(bits)).toEqual(before);
        } finally {
          tf.dispose(variables);
        }
      }),
      { numRuns: 60, seed: 32 },
    );
  });
});
