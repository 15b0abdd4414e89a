import { allFinite, definePlugin, ErrorCode, firstNonFiniteVariable, GradhooksError, Stage } from '@gradhooks/core';
import type { GradientMap, InputOf, JsonValue, ObjectiveGradients, OptionsOf, StepContext } from '@gradhooks/core';

import { countNonFiniteElements, zeroNonFinite } from './math/nonFinite.js';
import { presentTensors, selectGradients } from './selection.js';
import { StateReader } from './state.js';

const nonfiniteOptions = {
  type: 'object',
  properties: {
    policy: {
      type: 'string',
      enum: ['skip', 'zero', 'raise'],
      default: 'skip',
      description:
        'what to do when a gradient contains NaN or Infinity: skip the optimizer step, zero the non-finite elements and continue, or raise an error',
    },
    maxConsecutiveSkips: {
      type: 'integer',
      minimum: 0,
      default: 10,
      description:
        'policy skip: the longest run of skipped steps allowed; one more calls onLimit (optax max_consecutive_errors, which has no default)',
    },
    onLimit: {
      type: 'string',
      enum: ['raise', 'event'],
      default: 'raise',
      description:
        'policy skip, when the run of skipped steps exceeds maxConsecutiveSkips: raise an error, or emit a state event, reset the run and keep skipping',
    },
  },
  additionalProperties: false,
} as const;

/** nonfinite options as written in code or config. */
export type NonfiniteOptions = InputOf<typeof nonfiniteOptions>;
/** nonfinite options after defaults. */
export type ResolvedNonfiniteOptions = OptionsOf<typeof nonfiniteOptions>;

/** Saved state of `nonfinite`: JSON integers and a boolean, which stay so through a JSON round trip. */
export interface NonfiniteState {
  /** Steps skipped in a row for non-finite gradients since the last applied step (or the last limit event). */
  streak: number;
  /** Whether the gradients of the last step that changed this state were finite. */
  lastFinite: boolean;
  /** Steps whose gradients contained NaN or Infinity and that this plugin skipped or zeroed. */
  nonFiniteSteps: number;
  /** Times the streak exceeded maxConsecutiveSkips with onLimit 'event'. */
  limitEvents: number;
}

/**
 * Non-finite guard. It runs first on every objective's gradients (before
 * accumulation, surgery and every stateful plugin) and checks the selected
 * variables for NaN and ±Infinity with one device read per step. Policies:
 * `skip` skips the optimizer step (only this plugin's counters change),
 * `zero` replaces the non-finite elements with 0 and continues, `raise`
 * throws ERR_GRADIENT_NONFINITE. A non-finite update is never applied, also
 * not when the limit on consecutive skips is reached (optax's
 * apply_if_finite applies it then).
 *
 * Counters change on the steps this plugin skips and on the steps the
 * optimizer applies; an applied step resets the streak.
 */
export const nonfinite = definePlugin<ResolvedNonfiniteOptions, NonfiniteOptions>({
  name: 'nonfinite',
  description: 'Skips, zeroes or rejects gradients holding NaN or Infinity before any other plugin sees them.',
  options: nonfiniteOptions,
  stage: Stage.GUARD,
  create(options, context) {
    let streak = 0;
    let lastFinite = true;
    let nonFiniteSteps = 0;
    let limitEvents = 0;

    const skip = (gradients: ObjectiveGradients, step: StepContext): never => {
      const where = locate(gradients, step);
      const next = streak + 1;
      if (next <= options.maxConsecutiveSkips) {
        step.emit('state', { values: { streak: next, nonFiniteSteps: nonFiniteSteps + 1, limitReached: false } });
        return step.skip(`non-finite gradient ${where} (${next} in a row, at most ${options.maxConsecutiveSkips} allowed)`, {
          commit: () => {
            streak = next;
            lastFinite = false;
            nonFiniteSteps += 1;
          },
        });
      }
      if (options.onLimit === 'raise') {
        throw new GradhooksError(
          ErrorCode.ERR_GRADIENT_NONFINITE,
          `Gradients contained NaN or Infinity on ${next} steps in a row (latest: ${where}), more than maxConsecutiveSkips (${options.maxConsecutiveSkips}).`,
          {
            plugin: context.name,
            received: `${next} consecutive non-finite steps`,
            expected: `at most ${options.maxConsecutiveSkips}`,
            fix: 'Lower the learning rate or clip gradients; raise maxConsecutiveSkips, or set onLimit: "event" to keep skipping.',
          },
        );
      }
      const events = limitEvents + 1;
      step.emit('state', { values: { streak: 0, nonFiniteSteps: nonFiniteSteps + 1, limitReached: true, limitEvents: events } });
      return step.skip(`non-finite gradient ${where} (${next} in a row, limit ${options.maxConsecutiveSkips} exceeded; streak reset)`, {
        commit: () => {
          streak = 0;
          lastFinite = false;
          nonFiniteSteps += 1;
          limitEvents = events;
          // A diverged run reaches the limit again and again, so only the 1st, 2nd, 4th, 8th, ... time is logged.
          if ((events & (events - 1)) === 0) {
            step.logger.warn(
              `more than ${options.maxConsecutiveSkips} consecutive steps had non-finite gradients (${events} time(s) so far); steps keep being skipped`,
              { where, nonFiniteSteps },
            );
          }
        },
      });
    };

    return {
      objectiveGradients: (gradients, step) => {
        const selected = selectAll(gradients, context.matchesVariable);
        const tensors = Object.values(selected).flatMap(presentTensors);
        if (tensors.length === 0 || allFinite(tensors)) {
          step.onCommit(() => {
            streak = 0;
            lastFinite = true;
          });
          return gradients;
        }
        if (options.policy === 'raise') {
          const where = locate(gradients, step);
          throw new GradhooksError(ErrorCode.ERR_GRADIENT_NONFINITE, `The gradient ${where} contains NaN or Infinity, and policy 'raise' rejects it.`, {
            plugin: context.name,
            received: where,
            expected: 'finite gradients',
            fix: "Lower the learning rate or clip gradients, or set policy: 'skip' to drop such steps.",
          });
        }
        if (options.policy === 'skip') {
          return skip(selected, step);
        }
        step.onCommit(() => {
          streak = 0;
          lastFinite = false;
          nonFiniteSteps += 1;
        });
        if (step.report) {
          step.emit('state', { values: { zeroedElements: countNonFiniteElements(tensors).dataSync()[0]!, nonFiniteSteps: nonFiniteSteps + 1 } });
        }
        return zeroSelected(gradients, selected);
      },
      state: {
        save: (): JsonValue => ({ streak, lastFinite, nonFiniteSteps, limitEvents }) satisfies NonfiniteState,
        load: (saved) => {
          const reader = new StateReader(context.name, saved);
          streak = reader.integer('streak');
          lastFinite = reader.boolean('lastFinite');
          nonFiniteSteps = reader.integer('nonFiniteSteps');
          limitEvents = reader.integer('limitEvents');
        },
      },
    };
  },
});

function selectAll(gradients: ObjectiveGradients, matches: (name: string) => boolean): ObjectiveGradients {
  const selected: ObjectiveGradients = {};
  for (const [objective, map] of Object.entries(gradients)) {
    selected[objective] = selectGradients(map, matches);
  }
  return selected;
}

/** Names the first objective and variable whose gradient is not finite, for messages. */
function locate(gradients: ObjectiveGradients, step: StepContext): string {
  for (const [objective, map] of Object.entries(gradients)) {
    const variable = firstNonFiniteVariable(map, step.variableNames);
    if (variable !== undefined) {
      return `of '${variable}' in objective '${objective}'`;
    }
  }
  return 'in an objective';
}

function zeroSelected(gradients: ObjectiveGradients, selected: ObjectiveGradients): ObjectiveGradients {
  const output: ObjectiveGradients = {};
  for (const [objective, map] of Object.entries(gradients)) {
    const replaced: GradientMap = {};
    for (const [name, tensor] of Object.entries(map)) {
      replaced[name] = tensor !== null && name in selected[objective]! ? zeroNonFinite(tensor) : tensor;
    }
    output[objective] = replaced;
  }
  return output;
}
