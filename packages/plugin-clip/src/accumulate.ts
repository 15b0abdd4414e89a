import * as tf from '@tensorflow/tfjs-core';

import { decodeTensor, definePlugin, encodeTensor, ErrorCode, GradhooksError, Stage } from '@gradhooks/core';
import type { EncodedTensor, GradientMap, InputOf, JsonValue, ObjectiveGradients, OptionsOf } from '@gradhooks/core';

import { addObjectiveGradients, divideObjectiveGradients, tensorsOf } from './math/accumulate.js';
import { invalidState, StateReader } from './state.js';

const accumulateOptions = {
  type: 'object',
  properties: {
    steps: {
      type: 'integer',
      minimum: 1,
      description: 'micro-batches per optimizer step; their gradients are averaged before any other plugin but the non-finite guard sees them',
    },
  },
  required: ['steps'],
  additionalProperties: false,
} as const;

/** accumulate options as written in code or config. */
export type AccumulateOptions = InputOf<typeof accumulateOptions>;
/** accumulate options after defaults. */
export type ResolvedAccumulateOptions = OptionsOf<typeof accumulateOptions>;

/** Saved state of `accumulate`. */
export interface AccumulateState {
  /** Micro-batches in the open window. */
  count: number;
  /** Window size the state was saved with. */
  steps: number;
  /** Per objective, the sum of the window's gradients by variable; empty when the window is empty. */
  sums: Record<string, Record<string, EncodedTensor | null>>;
}

/**
 * Gradient accumulation: `steps` micro-batches make one optimizer step. Each
 * objective's gradients are summed across the micro-batches, before surgery,
 * stateful plugins and clipping, so those run once per optimizer step, on the
 * average. The micro-steps in between are skipped steps. A flush
 * (`optimizer.flush()`, or `flushOnTrainEnd` in `fit`) releases a partial
 * window divided by its own count.
 *
 * The running sums stay allocated between windows (their contents are
 * dropped when a window completes), so `tf.memory().numTensors` is the same
 * after every step once the first micro-batch has been seen.
 */
export const accumulate = definePlugin<ResolvedAccumulateOptions, AccumulateOptions>({
  name: 'accumulate',
  description: 'Averages each objective\'s gradients over several micro-batches and makes one optimizer step per window.',
  options: accumulateOptions,
  stage: Stage.ACCUMULATE,
  create(options, context) {
    if (options.variables.length !== 1 || options.variables[0] !== '**') {
      throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, "Plugin 'accumulate' accumulates every variable, so it takes no 'variables' option.", {
        plugin: context.name,
        path: '/variables',
        received: options.variables,
        expected: 'no variables option (every variable)',
        fix: "Remove 'variables': an optimizer step applies the whole window, so accumulating a subset would apply the others once per micro-batch.",
      });
    }
    if (options.dryRun) {
      // A dry run discards the skip's state change, so the window would never fill.
      throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, "Plugin 'accumulate' cannot run as a dry run: its window would never fill.", {
        plugin: context.name,
        path: '/dryRun',
        received: true,
        expected: 'false',
        fix: "Remove dryRun from 'accumulate'.",
      });
    }
    const windowSize = options.steps;
    // Kept tensors. Their values count only while `count` > 0; afterwards they are stale buffers
    // that the next window's first micro-batch replaces.
    let sums: ObjectiveGradients = {};
    let count = 0;

    const replaceSums = (next: ObjectiveGradients) => {
      const old = tensorsOf(sums);
      sums = next;
      tf.dispose(old);
    };

    return {
      objectiveGradients: (gradients, step) => {
        if (step.flushing) {
          if (count === 0) {
            return {};
          }
          const released = divideObjectiveGradients(sums, count);
          step.onCommit(() => {
            count = 0;
          });
          return released;
        }
        if (windowSize === 1) {
          return gradients;
        }
        const previous = count === 0 ? {} : sums;
        if (count + 1 < windowSize) {
          const next = addObjectiveGradients(previous, gradients, step.variableNames);
          for (const tensor of tensorsOf(next)) {
            tf.keep(tensor);
          }
          let adopted = false;
          step.onAbort(() => {
            if (!adopted) {
              tf.dispose(tensorsOf(next));
            }
          });
          if (step.report) {
            step.emit('state', { values: { accumulated: count + 1, steps: windowSize } });
          }
          return step.skip(`accumulating: micro-batch ${count + 1} of ${windowSize}`, {
            commit: () => {
              adopted = true;
              replaceSums(next);
              count += 1;
            },
          });
        }
        const completed = divideObjectiveGradients(addObjectiveGradients(previous, gradients, step.variableNames), windowSize);
        step.onCommit(() => {
          count = 0;
        });
        if (step.report) {
          step.emit('state', { values: { accumulated: windowSize, steps: windowSize } });
        }
        return completed;
      },
      state: {
        save: (): JsonValue => {
          const saved: AccumulateState['sums'] = {};
          if (count > 0) {
            for (const [objective, map] of Object.entries(sums)) {
              saved[objective] = Object.fromEntries(Object.entries(map).map(([name, tensor]) => [name, tensor === null ? null : encodeTensor(tensor)]));
            }
          }
          return { count, steps: windowSize, sums: saved } satisfies AccumulateState as unknown as JsonValue;
        },
        load: (saved) => {
          const reader = new StateReader(context.name, saved);
          const loadedCount = reader.integer('count');
          if (loadedCount >= windowSize) {
            throw invalidState(context.name, 'count', loadedCount, `fewer micro-batches than steps (${windowSize})`);
          }
          const loaded: ObjectiveGradients = {};
          try {
            for (const [objective, map] of Object.entries(reader.record('sums'))) {
              if (map === null || typeof map !== 'object' || Array.isArray(map)) {
                throw invalidState(context.name, `sums/${objective}`, map, 'an object from variable name to encoded tensor or null');
              }
              const gradients: GradientMap = {};
              loaded[objective] = gradients;
              for (const [name, encoded] of Object.entries(map)) {
                gradients[name] = encoded === null ? null : tf.keep(decodeTensor(encoded as unknown as EncodedTensor));
              }
            }
          } catch (error) {
            tf.dispose(tensorsOf(loaded));
            throw error;
          }
          replaceSums(loaded);
          count = loadedCount;
        },
      },
      dispose: () => {
        replaceSums({});
        count = 0;
      },
    };
  },
});
