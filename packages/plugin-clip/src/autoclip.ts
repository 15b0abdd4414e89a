import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, mapGradients, Stage } from '@gradhooks/core';
import type { InputOf, JsonValue, OptionsOf } from '@gradhooks/core';

import { globalNormOnHost } from './math/hostNorms.js';
import { torchClipCoefficient } from './math/normClip.js';
import { insertSorted, percentileWith, removeSorted } from './math/percentile.js';
import { emitClip } from './report.js';
import { presentTensors, selectGradients } from './selection.js';
import { StateReader } from './state.js';

const autoclipOptions = {
  type: 'object',
  properties: {
    percentile: {
      type: 'number',
      minimum: 0,
      maximum: 100,
      default: 10,
      description: 'percentile (0 to 100) of the gradient-norm history used as the threshold; 10 as the AutoClip paper recommends (pseeth/autoclip clip_percentile)',
    },
    history: {
      type: 'integer',
      minimum: 1,
      description:
        'number of most recent norms the percentile covers, the current one included; by default every norm since the start, as the PyTorch reference keeps them (its TF variant keeps history_size = 10000)',
    },
  },
  additionalProperties: false,
} as const;

/** autoclip options as written in code or config. */
export type AutoclipOptions = InputOf<typeof autoclipOptions>;
/** autoclip options after defaults. */
export type ResolvedAutoclipOptions = OptionsOf<typeof autoclipOptions>;

/** Saved state of `autoclip`. */
export interface AutoclipState {
  /** Global norms of the applied steps, oldest first (the most recent `history - 1` when `history` is set). */
  norms: number[];
  /** Applied optimizer steps seen. */
  steps: number;
  /** Applied optimizer steps whose gradients were scaled down. */
  clippedSteps: number;
}

/**
 * AutoClip (Seetharaman, Wichern, Pardo and Le Roux, "AutoClip: Adaptive
 * Gradient Clipping for Source Separation Networks", MLSP 2020), with the
 * semantics of the PyTorch reference pseeth/autoclip. The threshold is the
 * `percentile`-th percentile (numpy's linear interpolation) of the global L2
 * norms seen so far and the current one, and the gradients are scaled as
 * torch's clip_grad_norm_ does at that threshold. The history grows once per
 * applied optimizer step. A step whose norm is not finite leaves the
 * gradients and the history unchanged.
 */
export const autoclip = definePlugin<ResolvedAutoclipOptions, AutoclipOptions>({
  name: 'autoclip',
  description: 'Clips the global gradient norm to a percentile of the norms seen so far (AutoClip).',
  options: autoclipOptions,
  stage: Stage.CLIP,
  create(options, context) {
    const kept = options.history === undefined ? Number.POSITIVE_INFINITY : options.history - 1;
    let norms: number[] = [];
    let sorted: number[] = [];
    let steps = 0;
    let clippedSteps = 0;

    const record = (norm: number, clipped: boolean) => {
      norms.push(norm);
      insertSorted(sorted, norm);
      while (norms.length > kept) {
        removeSorted(sorted, norms.shift()!);
      }
      steps += 1;
      clippedSteps += clipped ? 1 : 0;
    };

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
        const threshold = percentileWith(sorted, norm, options.percentile);
        const coefficient = torchClipCoefficient(norm, threshold);
        const clipped = coefficient < 1;
        step.onCommit(() => record(norm, clipped));
        const output = clipped ? mapGradients(gradients, (gradient, name) => (name in selected ? tf.mul(gradient, coefficient) : gradient)) : gradients;
        if (step.report) {
          emitClip(step, selected, selectGradients(output, (name) => name in selected), clipped);
          step.emit('state', { values: { threshold, coefficient, historyLength: norms.length + 1, clippedSteps: clippedSteps + (clipped ? 1 : 0), steps: steps + 1 } });
        }
        return output;
      },
      state: {
        save: (): JsonValue => ({ norms: [...norms], steps, clippedSteps }) satisfies AutoclipState,
        load: (saved) => {
          const reader = new StateReader('autoclip', saved);
          const loaded = reader.numbers('norms');
          steps = reader.integer('steps');
          clippedSteps = reader.integer('clippedSteps');
          norms = loaded.slice(Math.max(0, loaded.length - kept));
          sorted = [...norms].sort((a, b) => a - b);
        },
      },
    };
  },
});
