import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, mapGradients, Stage } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { clipManyByValue, countOutOfBounds } from './math/clipByValue.js';
import { emitClip } from './report.js';
import { presentTensors, selectGradients } from './selection.js';

const clipValueOptions = {
  type: 'object',
  properties: {
    max: {
      type: 'number',
      description: 'upper bound of every gradient element (torch clip_value, optax max_delta, TF clip_value_max)',
    },
    min: {
      type: 'number',
      description: 'lower bound of every gradient element, at most max; defaults to -max (TF clip_value_min)',
    },
  },
  required: ['max'],
  additionalProperties: false,
} as const;

/** clip-value options as written in code or config. */
export type ClipValueOptions = InputOf<typeof clipValueOptions>;
/** clip-value options after defaults. */
export type ResolvedClipValueOptions = OptionsOf<typeof clipValueOptions>;

/**
 * Clips every element of the combined gradient to [min, max], over the
 * variables matching `variables`. NaN and ±Infinity elements stay as they
 * are and are reported as `nonFiniteDetected`; the non-finite guard or core's
 * final check then refuses the step. `min` greater than `max` is rejected
 * when the plugin is created.
 */
export const clipValue = definePlugin<ResolvedClipValueOptions, ClipValueOptions>({
  name: 'clip-value',
  description: 'Clips every element of the combined gradient to the range [min, max].',
  options: clipValueOptions,
  stage: Stage.CLIP,
  validate(options) {
    const min = options.min ?? -options.max;
    if (min <= options.max) {
      return [];
    }
    return [
      {
        path: options.min === undefined ? '/max' : '/min',
        received: { min, max: options.max },
        expected: 'min <= max',
        fix: options.min === undefined ? "Set 'max' to a number >= 0, or give 'min' explicitly." : "Swap 'min' and 'max', or lower 'min'.",
        keyword: 'validate',
      },
    ];
  },
  create(options, context) {
    const max = options.max;
    const min = options.min ?? -max;
    return {
      gradients: (gradients, step) => {
        const selected = selectGradients(gradients, context.matchesVariable);
        const names = Object.keys(selected).filter((name) => selected[name] !== null);
        const clippedTensors = clipManyByValue(
          names.map((name) => selected[name]!),
          min,
          max,
        );
        const byName = new Map(names.map((name, i) => [name, clippedTensors[i]!]));
        const output = mapGradients(gradients, (gradient, name) => byName.get(name) ?? gradient);
        if (step.report) {
          const clipped = tf.tidy(() => {
            const counts = presentTensors(selected).map((tensor) => countOutOfBounds(tensor, min, max));
            return counts.length === 0 ? tf.scalar(0, 'int32') : (tf.addN(counts) as tf.Scalar);
          });
          emitClip(step, selected, selectGradients(output, (name) => name in selected), clipped);
        }
        return output;
      },
    };
  },
});
