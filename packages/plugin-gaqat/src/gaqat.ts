import * as tf from '@tensorflow/tfjs-core';

import { createVariableMatcher, definePlugin, ErrorCode, GradhooksError, Stage } from '@gradhooks/core';
import type { GradientMap, InputOf, ObjectiveGradients, OptionsOf, StepContext } from '@gradhooks/core';

import type { FreezeRule } from './math/disorder.js';
import { advanceWindow, decodeWindows, encodeWindows } from './windows.js';
import type { ScaleReading, ScaleWindowState } from './windows.js';

/** Default pattern of the step-size variables that `quantizeModel` and the quantized layers create. */
export const DEFAULT_SCALE_PATTERNS = ['**/*quant_scale*'] as const;

const gaqatOptions = {
  type: 'object',
  properties: {
    window: {
      type: 'integer',
      minimum: 2,
      description: 'K: optimizer steps per window; disorder is measured over one window and decides the next. Required: the GAQAT paper does not publish its value',
    },
    threshold: {
      type: 'number',
      description: 'tau: a scale whose disorder is below this is frozen for the next window. Required: the GAQAT paper does not publish its value',
    },
    reading: {
      type: 'string',
      enum: ['sign-flips', 'conflict-rate'],
      default: 'sign-flips',
      description: 'sign-flips: sign changes of the task gradient / (K - 1); conflict-rate: share of steps whose task and smoothness gradients have a negative dot product',
    },
    freeze: {
      type: 'string',
      enum: ['task', 'smoothness', 'both'],
      default: 'task',
      description: 'gradient component of a frozen scale that is dropped: the task objective, the smoothness objective, or both',
    },
    scales: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      default: [...DEFAULT_SCALE_PATTERNS],
      description: 'glob patterns of the quantizer step-size variables; a leading ! excludes',
    },
    channels: {
      type: 'string',
      enum: ['sum', 'each'],
      default: 'sum',
      description: 'per-channel scales: sum reads the summed gradient and freezes the whole scale; each reads and freezes every channel on its own',
    },
    freezeAllZero: {
      type: 'boolean',
      default: false,
      description: 'freeze a scale whose window values are all zero (the rule as written would; off by default)',
    },
    task: {
      type: 'string',
      minLength: 1,
      description: 'task objective; defaults to the only objective other than the smoothness objective',
    },
    smoothness: {
      type: 'string',
      minLength: 1,
      default: 'smoothness',
      description: 'smoothness objective, as the sharpness plugin names it',
    },
  },
  required: ['window', 'threshold'],
  additionalProperties: false,
} as const;

/** `gaqat` options as written in code or config. */
export type GaqatOptions = InputOf<typeof gaqatOptions>;
/** `gaqat` options after defaults. */
export type ResolvedGaqatOptions = OptionsOf<typeof gaqatOptions>;

/** Objective names the plugin works with in one step. */
interface Roles {
  task: string;
  smoothness: string | undefined;
}

/**
 * GAQAT scale-gradient freezing (Jiang et al., arXiv 2412.05551, 2024) with
 * the library's provisional rule, because the paper's disorder equation, K
 * and τ are not public. For every quantizer step-size
 * variable matching `scales`, it records the task gradient (and its dot
 * product with the smoothness gradient) on each applied step. After `window`
 * steps it reads the disorder (`reading`) and, where it is below `threshold`,
 * drops the `freeze` component of that scale's gradient for the next window,
 * then measures again. Emits a `freeze` event per scale and window.
 *
 * Reads a few numbers from the device per step (one read for all scales).
 */
export const gaqat = definePlugin<ResolvedGaqatOptions, GaqatOptions>({
  name: 'gaqat',
  description: 'Freezes a gradient component of quantizer step sizes whose gradient disorder over a window is below a threshold (provisional GAQAT rule).',
  options: gaqatOptions,
  stage: Stage.ALIGN,
  objectiveOptions: ['task'],
  levels: ['parameter'],
  create(options, context) {
    if (!Number.isFinite(options.threshold)) {
      throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Plugin '${context.name}' needs a finite threshold, received ${options.threshold}.`, {
        plugin: context.name,
        path: '/threshold',
        received: options.threshold,
        expected: 'a finite number',
        fix: 'Set threshold (tau) to a finite number; disorder readings lie in [0, 1].',
      });
    }
    const isScale = createVariableMatcher(options.scales);
    const rule: FreezeRule = { reading: options.reading, threshold: options.threshold, freezeAllZero: options.freezeAllZero };
    let windows = new Map<string, ScaleWindowState>();
    let warnedMissingSmoothness = false;

    const roles = (gradients: ObjectiveGradients): Roles => {
      const names = Object.keys(gradients);
      const smoothness = options.smoothness in gradients ? options.smoothness : undefined;
      let task = options.task;
      if (task === undefined) {
        const candidates = names.filter((name) => name !== options.smoothness);
        if (candidates.length !== 1) {
          throw new GradhooksError(
            ErrorCode.ERR_OPTIONS_INVALID,
            `Plugin '${context.name}' needs to know the task objective, but the step has ${candidates.length} candidates (${candidates.join(', ')}) and option 'task' is not set.`,
            { plugin: context.name, path: '/task', received: names, expected: 'option task naming one objective', fix: `Set 'task' to one of ${candidates.join(', ')}.` },
          );
        }
        task = candidates[0]!;
      } else if (!(task in gradients)) {
        throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Plugin '${context.name}' reads task objective '${task}', but the step has no such objective.`, {
          plugin: context.name,
          path: '/task',
          received: task,
          expected: `one of ${names.join(', ')}`,
          fix: `Set 'task' to one of ${names.join(', ')}; inside model.fit a single-output model's objective is named 'loss'.`,
        });
      }
      if (smoothness === undefined) {
        if (options.reading === 'conflict-rate' || options.freeze === 'smoothness') {
          throw new GradhooksError(
            ErrorCode.ERR_OPTIONS_INVALID,
            `Plugin '${context.name}' needs objective '${options.smoothness}' (reading '${options.reading}', freeze '${options.freeze}'), but the step has only ${names.join(', ')}.`,
            {
              plugin: context.name,
              path: '/smoothness',
              received: names,
              expected: `an objective named '${options.smoothness}'`,
              fix: "Add the 'sharpness' plugin, which adds the smoothness objective, or set 'smoothness' to the name of yours.",
            },
          );
        }
        if (!warnedMissingSmoothness) {
          warnedMissingSmoothness = true;
          context.logger.warn(`no '${options.smoothness}' objective: a frozen scale gets no gradient at all until it is unfrozen`, { objectives: names });
        }
      }
      return { task, smoothness };
    };

    return {
      objectiveGradients: (gradients, step) => {
        const { task, smoothness } = roles(gradients);
        const names = step.variableNames.filter((name) => isScale(name) && context.matchesVariable(name));
        if (names.length === 0) {
          return gradients;
        }
        const units = names.map((name) => (options.channels === 'sum' ? 1 : step.variableShape(name)!.reduce((product, size) => product * size, 1)));
        const readings = readScales(gradients[task]!, smoothness === undefined ? undefined : gradients[smoothness], names, units);
        const targets: string[] = [];
        if (options.freeze !== 'smoothness') {
          targets.push(task);
        }
        if (options.freeze !== 'task' && smoothness !== undefined) {
          targets.push(smoothness);
        }
        const output = dropFrozen(gradients, targets, names, units, windows, step);
        if (step.report) {
          const states = names.map((name) => windows.get(name));
          const frozenUnits = states.reduce((count, state) => count + (state?.frozen.filter(Boolean).length ?? 0), 0);
          step.emit('state', { values: { frozenUnits, trackedScales: names.length } });
        }

        // The windows advance only when the optimizer applies this step.
        const committed = windows;
        step.onCommit(() => {
          const next = new Map(committed);
          names.forEach((name, i) => {
            const advance = advanceWindow(committed.get(name), readings[i]!, options.window, rule);
            next.set(name, advance.next);
            advance.decisions?.forEach((decision, unit) => {
              const layer = advance.decisions!.length === 1 ? name : `${name}[${unit}]`;
              step.emit('freeze', { plugin: context.name, layer, disorder: decision.disorder, frozen: decision.frozen });
            });
          });
          windows = next;
        });
        return output;
      },
      state: {
        save: () => encodeWindows(windows),
        load: (saved) => {
          windows = decodeWindows(saved, context.name);
        },
      },
    };
  },
});

/**
 * Reads, for each scale, its task-gradient value and its task·smoothness dot
 * product per unit (`sizes[i]` units: 1 reads the sums over the whole scale),
 * with one device read for all scales. A scale that an objective does not
 * reach counts as a zero gradient there.
 */
function readScales(taskMap: GradientMap, smoothMap: GradientMap | undefined, names: readonly string[], sizes: readonly number[]): ScaleReading[] {
  const values = tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    names.forEach((name, i) => {
      const task = taskMap[name] ?? null;
      const smooth = smoothMap?.[name] ?? null;
      const size = sizes[i]!;
      if (task === null) {
        parts.push(tf.zeros([2 * size]));
        return;
      }
      const dot = smooth === null ? tf.zerosLike(task) : tf.mul(task, smooth);
      parts.push(size === 1 ? tf.stack([tf.sum(task), tf.sum(dot)]) : tf.concat([tf.reshape(task, [-1]), tf.reshape(dot, [-1])]));
    });
    return tf.concat(parts).dataSync();
  });
  const readings: ScaleReading[] = [];
  let offset = 0;
  for (const size of sizes) {
    readings.push({ task: Array.from(values.subarray(offset, offset + size)), dots: Array.from(values.subarray(offset + size, offset + 2 * size)) });
    offset += 2 * size;
  }
  return readings;
}

/**
 * Drops the frozen units of each scale from the target objectives' maps. A
 * scale frozen as a whole leaves the map, so that objective no longer
 * reaches it. A scale frozen in some channels has those channels zeroed.
 */
function dropFrozen(
  gradients: ObjectiveGradients,
  targets: readonly string[],
  names: readonly string[],
  units: readonly number[],
  windows: ReadonlyMap<string, ScaleWindowState>,
  step: StepContext,
): ObjectiveGradients {
  // A window kept for another unit count (a checkpoint of another `channels` setting) freezes nothing; it restarts when the step commits.
  const frozenScales = names.filter((name, i) => {
    const state = windows.get(name);
    return state !== undefined && state.units === units[i] && state.frozen.some(Boolean);
  });
  if (frozenScales.length === 0 || targets.length === 0) {
    return gradients;
  }
  const output: ObjectiveGradients = { ...gradients };
  for (const objective of targets) {
    const map: GradientMap = { ...gradients[objective]! };
    for (const name of frozenScales) {
      const frozen = windows.get(name)!.frozen;
      const gradient = map[name];
      if (gradient === undefined || gradient === null) {
        continue;
      }
      if (frozen.every(Boolean)) {
        // The objective no longer reaches this scale; the sum of the objectives leaves it out.
        delete map[name];
      } else {
        const keep = tf.tensor(frozen.map((flag) => (flag ? 0 : 1)), step.variableShape(name)! as number[]);
        map[name] = tf.mul(gradient, keep);
      }
    }
    output[objective] = map;
  }
  return output;
}
