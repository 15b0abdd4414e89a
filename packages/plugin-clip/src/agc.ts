import * as tf from '@tensorflow/tfjs-core';

import { createVariableMatcher, definePlugin, Stage } from '@gradhooks/core';
import type { GradientMap, InputOf, OptionsOf } from '@gradhooks/core';

import { adaptiveClip } from './math/adaptiveClip.js';
import { emitClip } from './report.js';
import { mergeGradients, selectGradients } from './selection.js';

const agcOptions = {
  type: 'object',
  properties: {
    clipping: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 0.01,
      description:
        'largest ratio of a unit\'s gradient norm to its weight norm (lambda); 0.01 is the NFNet ImageNet setting at batch 4096 (optax and nfnets "clipping", which have no default)',
    },
    eps: {
      type: 'number',
      minimum: 0,
      default: 1e-3,
      description: 'floor of the weight norm, so zero-initialised weights can still move (optax and nfnets "eps")',
    },
    exclude: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description: 'glob patterns of variables left unclipped; NFNets exclude the final classifier layer, for example ["dense_3/kernel", "dense_3/bias"]',
    },
  },
  additionalProperties: false,
} as const;

/** agc options as written in code or config. */
export type AgcOptions = InputOf<typeof agcOptions>;
/** agc options after defaults. */
export type ResolvedAgcOptions = OptionsOf<typeof agcOptions>;

/**
 * Adaptive gradient clipping (AGC; Brock, De, Smith and Simonyan, 2021)
 * clips each unit's gradient to `clipping` times the norm of its weights.
 * Units follow tfjs layouts: the last axis of a kernel indexes output units,
 * and a bias or gain is one unit. Variables matching `exclude` pass
 * unchanged. A unit whose gradient norm is not finite is left as it is and reported.
 */
export const agc = definePlugin<ResolvedAgcOptions, AgcOptions>({
  name: 'agc',
  description: 'Clips the gradient of each unit to a fraction of the norm of its weights (adaptive gradient clipping).',
  options: agcOptions,
  stage: Stage.CLIP,
  create(options, context) {
    const excluded = options.exclude.length === 0 ? () => false : createVariableMatcher(options.exclude);
    const applies = (name: string) => context.matchesVariable(name) && !excluded(name);
    return {
      gradients: (gradients, step) => {
        const selected = selectGradients(gradients, applies);
        const variables = new Map(step.variables.map((variable) => [variable.name, variable]));
        const clipped: GradientMap = {};
        const clippedMasks: tf.Tensor[] = [];
        let units = 0;
        for (const [name, gradient] of Object.entries(selected)) {
          if (gradient === null || gradient.size === 0) {
            clipped[name] = gradient;
            continue;
          }
          const variable = variables.get(name)!;
          const clip = adaptiveClip(gradient, variable, options.clipping, options.eps);
          clipped[name] = clip.gradient;
          clippedMasks.push(clip.clipped);
          units += clip.units;
        }
        if (step.report) {
          const total = clippedMasks.length === 0 ? 0 : tf.tidy(() => tf.addN(clippedMasks.map((mask) => tf.sum(tf.cast(mask, 'int32')))).dataSync()[0]!);
          emitClip(step, selected, clipped, total > 0);
          step.emit('state', { values: { clippedUnits: total, units } });
        }
        return mergeGradients(gradients, clipped);
      },
    };
  },
});
