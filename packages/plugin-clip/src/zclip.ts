import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, mapGradients, Stage } from '@gradhooks/core';
import type { InputOf, JsonValue, OptionsOf } from '@gradhooks/core';

import { globalNormOnHost } from './math/hostNorms.js';
import { zclipStep } from './math/zclip.js';
import type { ZClipSettings, ZClipStatistics } from './math/zclip.js';
import { emitClip } from './report.js';
import { presentTensors, selectGradients } from './selection.js';
import { invalidState, StateReader } from './state.js';

const zclipOptions = {
  type: 'object',
  properties: {
    alpha: {
      type: 'number',
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      default: 0.97,
      description: 'weight of the past in the moving mean and variance of the gradient norm (ZClip alpha)',
    },
    zThreshold: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 2.5,
      description: 'z-score above which a gradient norm is a spike and gets clipped (ZClip z_thresh)',
    },
    maxNorm: {
      type: 'number',
      exclusiveMinimum: 0,
      description:
        'upper bound of the clipping threshold, also applied during warm-up; none by default (ZClip max_grad_norm, whose default there is 1.0)',
    },
    warmupSteps: {
      type: 'integer',
      minimum: 1,
      default: 25,
      description: 'optimizer steps whose norms start the statistics; no z-score clipping before (ZClip warmup_steps)',
    },
    eps: {
      type: 'number',
      minimum: 0,
      default: 1e-6,
      description: 'added to the standard deviation in the z-score (ZClip eps)',
    },
    mode: {
      type: 'string',
      enum: ['zscore', 'percentile'],
      default: 'zscore',
      description: 'zscore: clip spikes by their z-score; percentile: clip every norm above mean + zThreshold * std (ZClip mode)',
    },
    clipOption: {
      type: 'string',
      enum: ['adaptive-scaling', 'mean'],
      default: 'adaptive-scaling',
      description: 'zscore mode only: adaptive-scaling clips a spike to mean + zThreshold^2 * std / z, mean clips it to the mean (ZClip clip_option)',
    },
    clipFactor: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 1,
      description: 'multiplier of the adaptive-scaling threshold; below 1 clips harder (ZClip clip_factor)',
    },
    skipUpdateOnSpike: {
      type: 'boolean',
      default: false,
      description: 'leave the mean and variance unchanged on a spike (ZClip skip_update_on_spike)',
    },
  },
  additionalProperties: false,
} as const;

/** zclip options as written in code or config. */
export type ZclipOptions = InputOf<typeof zclipOptions>;
/** zclip options after defaults. */
export type ResolvedZclipOptions = OptionsOf<typeof zclipOptions>;

/** Saved state of `zclip`. */
export interface ZclipState {
  /** Norms collected during warm-up; empty once the statistics started. */
  buffer: number[];
  /** Moving mean and variance of the global norm; null during warm-up. */
  mean: number | null;
  variance: number | null;
  /** Applied optimizer steps seen. */
  steps: number;
  /** Applied optimizer steps whose gradients were scaled down. */
  clippedSteps: number;
}

/**
 * ZClip (Kumar, Owen, Roy Chowdhury and Güra, 2025) as bluorion-com/ZClip
 * defines it: the global L2 norm of the selected gradients is compared with
 * moving statistics of past norms, and a spike is clipped to a threshold
 * derived from its z-score. The statistics start after `warmupSteps` norms
 * and move once per applied optimizer step. A step whose norm is not finite
 * leaves the gradients and the statistics unchanged.
 */
export const zclip = definePlugin<ResolvedZclipOptions, ZclipOptions>({
  name: 'zclip',
  description: 'Clips gradient-norm spikes found by their z-score against moving statistics of past norms (ZClip).',
  options: zclipOptions,
  stage: Stage.CLIP,
  create(options, context) {
    const settings: ZClipSettings = {
      alpha: options.alpha,
      zThreshold: options.zThreshold,
      maxNorm: options.maxNorm,
      warmupSteps: options.warmupSteps,
      eps: options.eps,
      mode: options.mode,
      clipOption: options.clipOption,
      clipFactor: options.clipFactor,
      skipUpdateOnSpike: options.skipUpdateOnSpike,
    };
    let statistics: ZClipStatistics = { buffer: [], mean: null, variance: null };
    let steps = 0;
    let clippedSteps = 0;

    return {
      gradients: (gradients, step) => {
        const selected = selectGradients(gradients, context.matchesVariable);
        const norm = globalNormOnHost(presentTensors(selected), 2);
        if (!Number.isFinite(norm)) {
          if (step.report) {
            step.emit('clip', { normBefore: norm, normAfter: norm, clipped: false, nonFiniteDetected: true });
          }
          return gradients;
        }
        const decision = zclipStep(statistics, norm, settings);
        const clipped = decision.coefficient < 1;
        step.onCommit(() => {
          statistics = decision.next;
          steps += 1;
          clippedSteps += clipped ? 1 : 0;
        });
        const output = clipped
          ? mapGradients(gradients, (gradient, name) => (name in selected ? tf.mul(gradient, decision.coefficient) : gradient))
          : gradients;
        if (step.report) {
          emitClip(step, selected, selectGradients(output, (name) => name in selected), clipped);
          step.emit('state', {
            values: {
              phase: decision.phase,
              spike: decision.clipValue !== null,
              coefficient: decision.coefficient,
              ...(decision.z === undefined ? {} : { z: decision.z }),
              ...(decision.effective === undefined ? {} : { threshold: decision.effective }),
              ...(decision.next.mean === null ? {} : { mean: decision.next.mean, variance: decision.next.variance! }),
            },
          });
        }
        return output;
      },
      state: {
        save: (): JsonValue =>
          ({ buffer: [...statistics.buffer], mean: statistics.mean, variance: statistics.variance, steps, clippedSteps }) satisfies ZclipState,
        load: (saved) => {
          const reader = new StateReader('zclip', saved);
          const buffer = reader.numbers('buffer');
          const mean = reader.number('mean', true);
          const variance = reader.number('variance', true);
          if ((mean === null) !== (variance === null)) {
            throw invalidState('zclip', 'variance', variance, mean === null ? 'null while the mean is null' : 'a number while the mean is a number');
          }
          steps = reader.integer('steps');
          clippedSteps = reader.integer('clippedSteps');
          statistics = { buffer, mean, variance };
        },
      },
    };
  },
});
