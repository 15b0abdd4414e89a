import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, Stage } from '@gradhooks/core';
import type { GradientMap, InputOf, JsonValue, OptionsOf } from '@gradhooks/core';

import { noiseVariance } from './schedule.js';

/**
 * The plugin's name, which is also its package name, so a config file turns
 * it on with `{ "use": "gradhooks-plugin-gradient-noise" }` and the schema
 * assembled by `gradhooks schema --plugins` validates its options there.
 */
export const GRADIENT_NOISE = 'gradhooks-plugin-gradient-noise';

const gradientNoiseOptions = {
  type: 'object',
  properties: {
    eta: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.01,
      description: 'noise variance at step 0 (η); Neelakantan et al. chose from 0.01, 0.3 and 1.0',
    },
    gamma: {
      type: 'number',
      minimum: 0,
      default: 0.55,
      description: 'decay exponent (γ): the variance at step t is eta / (1 + t)^gamma; 0 keeps it constant',
    },
  },
  additionalProperties: false,
} as const;

/** gradient-noise options as written in code or config. */
export type GradientNoiseOptions = InputOf<typeof gradientNoiseOptions>;
/** gradient-noise options after defaults. */
export type ResolvedGradientNoiseOptions = OptionsOf<typeof gradientNoiseOptions>;

/** Serializable state: the number of applied steps the plugin has added noise to. */
export interface GradientNoiseState {
  step: number;
}

/**
 * Adds annealed Gaussian noise to the combined gradient: on its t-th applied
 * step (from 0), every gradient entry of the variables matching `variables`
 * gets an independent N(0, η / (1 + t)^γ) sample. Runs at `Stage.NOISE`,
 * after clipping.
 *
 * Each variable's noise comes from `tf.randomNormal` with a seed drawn from
 * the plugin's own generator (`context.random`), so a run is reproducible
 * from its seed. A skipped step rolls the generator back, so the retry draws
 * the same noise. The step counter advances only when the optimizer applies
 * the update, and is saved in checkpoints.
 *
 * Reference: Arvind Neelakantan, Luke Vilnis, Quoc V. Le, Ilya Sutskever,
 * Lukasz Kaiser, Karol Kurach, James Martens, "Adding Gradient Noise Improves
 * Learning for Very Deep Networks", arXiv:1511.06807, 2015.
 *
 * @example
 * ```ts
 * const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
 *   plugins: [gradientNoise({ eta: 0.3, seed: 7 })],
 * });
 * ```
 */
export const gradientNoise = definePlugin<ResolvedGradientNoiseOptions, GradientNoiseOptions>({
  name: GRADIENT_NOISE,
  description: 'Adds annealed Gaussian noise with variance eta / (1 + t)^gamma to the combined gradient (Neelakantan et al., 2015).',
  options: gradientNoiseOptions,
  stage: Stage.NOISE,
  create(options, context) {
    let applied = 0;
    return {
      gradients: (gradients, step) => {
        const variance = noiseVariance(options.eta, options.gamma, applied);
        const deviation = Math.sqrt(variance);
        const output: GradientMap = {};
        for (const [name, gradient] of Object.entries(gradients)) {
          if (gradient === null || !context.matchesVariable(name)) {
            output[name] = gradient;
            continue;
          }
          const seed = context.random.int(0, 2147483646);
          output[name] = tf.add(gradient, tf.randomNormal(gradient.shape, 0, deviation, 'float32', seed));
        }
        if (step.report) {
          step.emit('state', { values: { noiseStep: applied, variance } });
        }
        const next = applied + 1;
        step.onCommit(() => {
          applied = next;
        });
        return output;
      },
      state: {
        save: (): JsonValue => ({ step: applied }),
        load: (saved) => {
          applied = readState(saved).step;
        },
      },
    };
  },
});

function readState(saved: JsonValue): GradientNoiseState {
  const step = saved !== null && typeof saved === 'object' && !Array.isArray(saved) ? saved['step'] : undefined;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) {
    throw new Error(`expected saved state { step: <non-negative integer> }, received ${JSON.stringify(saved)}`);
  }
  return { step };
}
