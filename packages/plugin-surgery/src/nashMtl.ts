import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';
import type { InputOf, JsonValue, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { quadraticForm } from './math/linearAlgebra.js';
import { nashWeights } from './math/nashBargaining.js';

const nashMtlOptions = {
  type: 'object',
  properties: {
    maxNorm: {
      type: 'number',
      minimum: 0,
      default: 1,
      description: 'largest norm of the update over the covered variables; 0 for no cap; reference and TorchJD max_norm',
    },
    updateEvery: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'solve for new weights every this many steps and reuse them in between; reference update_weights_every',
    },
    maxIterations: {
      type: 'integer',
      minimum: 1,
      default: 20,
      description: "Newton iterations of the bargaining solve; the reference's optim_niter caps its own iterations at 20",
    },
  },
  additionalProperties: false,
} as const;

/** Options of `nash-mtl` as written in code or config. */
export type NashMtlOptions = InputOf<typeof nashMtlOptions>;
/** Options of `nash-mtl` after defaults. */
export type ResolvedNashMtlOptions = OptionsOf<typeof nashMtlOptions>;

/** Per scope: the last solved weights, their normalised form for warm starts, and steps since the solve. */
export type NashMtlState = Record<string, { objectives: string[]; weights: number[]; normalized: number[]; age: number }>;

/**
 * Nash-MTL (Navon et al., "Multi-Task Learning as a Bargaining Game", ICML
 * 2022): weights α with αᵢ (Gα)ᵢ = 1, the Nash bargaining solution, so each
 * objective's share of the update is inversely proportional to its weight.
 * The update's norm is capped at `maxNorm`. The last solution warm-starts the
 * next solve and is saved in checkpoints.
 */
export const nashMtl = definePlugin<ResolvedNashMtlOptions, NashMtlOptions>({
  name: 'nash-mtl',
  description: 'Weights the objective gradients by the Nash bargaining solution and caps the update norm (Nash-MTL).',
  options: nashMtlOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    let state: NashMtlState = {};
    const instance = aggregatorInstance(context, {
      weighting: ({ gramian, objectives, step, scope }) => {
        const previous = state[scope];
        const sameObjectives = previous !== undefined && previous.objectives.join('\u0000') === objectives.join('\u0000');
        let entry: NashMtlState[string];
        if (sameObjectives && previous.age + 1 < options.updateEvery) {
          entry = { ...previous, age: previous.age + 1 };
        } else {
          const solved = nashWeights(gramian!.matrix, options.maxIterations, sameObjectives ? previous.normalized : undefined);
          entry = { objectives: [...objectives], weights: solved.weights, normalized: solved.normalized, age: 0 };
        }
        step.onCommit(() => {
          state = { ...state, [scope]: entry };
        });
        let weights = entry.weights;
        if (options.maxNorm > 0) {
          const norm = Math.sqrt(Math.max(0, quadraticForm(gramian!.matrix, weights)));
          if (norm > options.maxNorm) {
            weights = weights.map((weight) => (weight / norm) * options.maxNorm);
          }
        }
        return { weights };
      },
    });
    return {
      ...instance,
      state: {
        save: () => state as unknown as JsonValue,
        load: (saved) => {
          state = checkState(saved, context.name);
        },
      },
    };
  },
});

function checkState(saved: JsonValue, plugin: string): NashMtlState {
  const numbers = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === 'number');
  const valid =
    typeof saved === 'object' &&
    saved !== null &&
    !Array.isArray(saved) &&
    Object.values(saved).every((entry) => {
      const record = entry as Record<string, unknown> | null;
      return (
        record !== null &&
        typeof record === 'object' &&
        Array.isArray(record['objectives']) &&
        numbers(record['weights']) &&
        numbers(record['normalized']) &&
        typeof record['age'] === 'number'
      );
    });
  if (!valid) {
    throw new GradhooksError(ErrorCode.ERR_PLUGIN_STATE_INVALID, `Plugin '${plugin}' cannot load its state: expected the last weights by scope.`, {
      plugin,
      received: saved,
      expected: '{ scope: { objectives, weights, normalized, age } }',
      fix: 'Load a checkpoint that nash-mtl saved.',
    });
  }
  return structuredClone(saved) as unknown as NashMtlState;
}
