import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';
import type { HookedOptimizer, InputOf, OptionsOf, StepContext, TrainingSession } from '@gradhooks/core';

import { WeightAverage } from './WeightAverage.js';

const emaWeightsOptions = {
  type: 'object',
  properties: {
    decay: {
      type: 'number',
      minimum: 0,
      exclusiveMaximum: 1,
      default: 0.99,
      description: 'weight of the old average at each update: average = decay * average + (1 - decay) * weight (Keras ema_momentum, default 0.99; TF ExponentialMovingAverage decay)',
    },
    warmup: {
      type: 'boolean',
      default: false,
      description: 'use min(decay, (1 + t) / (10 + t)) at update t, as TF ExponentialMovingAverage does with num_updates',
    },
    biasCorrection: {
      type: 'boolean',
      default: false,
      description: 'start the average at zero and divide it by 1 - (product of the decays) when read (TF zero_debias); otherwise start at the current weights',
    },
    nonTrainable: {
      type: 'string',
      enum: ['copy', 'average'],
      default: 'copy',
      description:
        'non-trainable variables (BatchNorm moving mean and variance): copy keeps their current values when the averages are swapped in; average averages them like the weights',
    },
  },
  additionalProperties: false,
} as const;

/** ema-weights options as written in code or config. */
export type EmaWeightsOptions = InputOf<typeof emaWeightsOptions>;
/** ema-weights options after defaults. */
export type ResolvedEmaWeightsOptions = OptionsOf<typeof emaWeightsOptions>;

/** The averages of each session, by plugin instance name; filled when an instance first runs a step. */

/**
 * Exponential moving average of the weights, updated after each applied
 * optimizer step (never on skipped micro-steps of an accumulation window).
 * It tracks the optimizer's variables that match `variables`, and with
 * `nonTrainable: 'average'` also the registered non-trainable variables that
 * match. Swap the averages in for evaluation with
 * `emaWeightsOf(optimizer).withAveragedWeights(() => model.evaluate(...))`.
 */
export const emaWeights = definePlugin<ResolvedEmaWeightsOptions, EmaWeightsOptions>({
  name: 'ema-weights',
  description: 'Keeps an exponential moving average of the weights, updated once per optimizer step, to swap in for evaluation.',
  options: emaWeightsOptions,
  create(options, context) {
    if (options.dryRun) {
      throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, "Plugin 'ema-weights' does not change gradients, so dryRun has nothing to report.", {
        plugin: context.name,
        path: '/dryRun',
        received: true,
        expected: 'false',
        fix: "Remove dryRun from 'ema-weights'.",
      });
    }
    const average = new WeightAverage(context.name, options.decay, options.warmup, options.biasCorrection);
    const tracked = (step: StepContext): tf.Variable[] => {
      const trainable = step.variables.filter((variable) => context.matchesVariable(variable.name));
      if (options.nonTrainable === 'copy') {
        return trainable;
      }
      const others = Object.values(tf.engine().registeredVariables).filter(
        (variable) => !variable.trainable && !variable.isDisposed && context.matchesVariable(variable.name),
      );
      return [...trainable, ...others];
    };
    return {
      api: average,
      beginStep: (step) => {
        average.begin(step, tracked(step));
      },
      afterApply: (step) => {
        const decay = average.update(tracked(step));
        if (step.report) {
          step.emit('state', { values: { decay, updates: average.updates } });
        }
      },
      state: {
        save: () => average.save(),
        load: (saved) => average.load(saved),
      },
      dispose: () => average.dispose(),
    };
  },
});

/**
 * Returns the moving average of the `ema-weights` plugin of an optimizer or
 * session (`name` picks one of several instances, such as 'ema-weights#2'),
 * or undefined when the optimizer has no such plugin.
 *
 * @example
 * ```ts
 * await model.fit(xs, ys, { epochs: 5 });
 * const accuracy = await emaWeightsOf(optimizer)!.withAveragedWeights(() => evaluate(model));
 * ```
 */
export function emaWeightsOf(owner: HookedOptimizer | TrainingSession, name = 'ema-weights'): WeightAverage | undefined {
  return owner.plugin<WeightAverage>(name);
}
