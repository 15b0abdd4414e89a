import * as tf from '@tensorflow/tfjs';

import { decodeTensor, definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { EncodedTensor, PluginSpec, SessionOptions, StateEvent } from '@gradhooks/core';
import { shapeOf } from '@gradhooks/testing';

let counter = 0;

/** Gradients of one step: objective name → variable name → nested values (null for a null gradient). */
export type StepGradients = Record<string, Record<string, unknown>>;

/** What one step did, as seen after every plugin ran. */
export interface StepRun {
  applied: boolean;
  /** Combined gradient per variable, as the optimizer received it (null entries included). */
  output: Record<string, number[] | null>;
  /** Objectives left after the objectiveGradients taps, in order. */
  objectives: string[];
  /** Variable keys of each objective's map after the objectiveGradients taps, in order. */
  keys: Record<string, string[]>;
  states: StateEvent[];
  /** Committed EMAs after the step, from the plugin state of the first plugin: role → variable → values. */
  emas: Record<string, Record<string, number[]>>;
  /** `tf.memory().numTensors` after the step. */
  tensors: number;
}

/** Options of `runSteps`. */
export interface RunOptions {
  session?: Omit<SessionOptions, 'plugins'>;
  /** Plugins placed after the observer that reads the objective gradients (a skip, for example). */
  after?: readonly PluginSpec[];
}

/**
 * Runs `plugins` for several steps on given gradients: objective k of step t
 * returns exactly `steps[t][k]` as its gradients. An observer at
 * `Stage.OBSERVE` reads the objective gradients after the plugins and the
 * combined gradients before the optimizer, and the first plugin's state is
 * read from a checkpoint after every step. Variables are created from the
 * union of the names, shaped like their first non-null value. Throws when
 * tensors remain allocated once the optimizer and variables are disposed.
 */
export async function runSteps(plugins: readonly PluginSpec[], steps: readonly StepGradients[], options: RunOptions = {}): Promise<StepRun[]> {
  const start = tf.memory().numTensors;
  counter += 1;
  const prefix = `bloop${counter}`;
  const shapes = new Map<string, number[] | undefined>();
  for (const step of steps) {
    for (const map of Object.values(step)) {
      for (const [name, values] of Object.entries(map)) {
        if (values !== null && !shapes.get(name)) {
          shapes.set(name, shapeOf(values));
        } else if (!shapes.has(name)) {
          // A variable whose gradient is always null still needs a shape; [1] is as good as any.
          shapes.set(name, undefined);
        }
      }
    }
  }
  const variables = [...shapes].map(([name, shape]) => tf.tidy(() => tf.variable(tf.zeros(shape ?? [1]), true, `${prefix}/${name}`)));
  const strip = (name: string) => name.slice(prefix.length + 1);

  let current: StepRun = emptyRun();
  const observer = definePlugin({
    name: 'observer',
    description: 'reads the objective gradients and the combined gradients',
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage: Stage.OBSERVE,
    create: () => ({
      objectiveGradients: (gradients) => {
        current.objectives = Object.keys(gradients);
        current.keys = Object.fromEntries(Object.entries(gradients).map(([objective, map]) => [objective, Object.keys(map).map(strip)]));
        return gradients;
      },
      gradients: (combined) => {
        for (const [name, tensor] of Object.entries(combined)) {
          current.output[strip(name)] = tensor === null ? null : Array.from(tensor.dataSync());
        }
        return combined;
      },
    }),
  })();

  const optimizer = new HookedOptimizer(tf.train.sgd(0), { ...options.session, plugins: [...plugins, observer, ...(options.after ?? [])] });
  optimizer.telemetry.on('state', (event) => current.states.push(event));
  const runs: StepRun[] = [];
  try {
    for (const step of steps) {
      current = emptyRun();
      const objectives = Object.fromEntries(
        Object.entries(step).map(([objective, map]) => [
          objective,
          {
            gradients: () => ({
              value: tf.scalar(0),
              grads: Object.fromEntries(
                Object.entries(map).map(([name, values]) => [`${prefix}/${name}`, values === null ? null : tf.tensor(values as number[])]),
              ),
            }),
          },
        ]),
      );
      current.applied = optimizer.step(objectives, { variables }).applied;
      current.tensors = tf.memory().numTensors;
      current.emas = await readEmas(optimizer, strip);
      runs.push(current);
    }
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  const end = tf.memory().numTensors;
  if (end !== start) {
    throw new Error(`runSteps left ${end - start} tensor(s) allocated after the optimizer was disposed (${start} before, ${end} after)`);
  }
  return runs;
}

function emptyRun(): StepRun {
  return { applied: false, output: {}, objectives: [], keys: {}, states: [], emas: {}, tensors: 0 };
}

/** Decodes the EMAs of the first plugin's saved state. */
export async function readEmas(optimizer: HookedOptimizer, rename: (name: string) => string = (name) => name): Promise<Record<string, Record<string, number[]>>> {
  const checkpoint = await optimizer.saveCheckpoint({ optimizer: false });
  const state = checkpoint.plugins[0]?.state as Record<string, unknown> | null;
  const emas: Record<string, Record<string, number[]>> = {};
  for (const role of ['main', 'auxiliary']) {
    const saved = (state?.[role] ?? {}) as Record<string, EncodedTensor>;
    emas[role] = {};
    for (const [name, encoded] of Object.entries(saved)) {
      const tensor = decodeTensor(encoded);
      emas[role]![rename(name)] = Array.from(tensor.dataSync());
      tensor.dispose();
    }
  }
  return emas;
}

/** Returns the first state event's values, with the harness's variable prefix removed from per-variable keys. */
export function stateValues(run: StepRun): Record<string, number | string | boolean> {
  const event = run.states[0];
  if (event === undefined) {
    throw new Error('no state event was emitted on this step');
  }
  return Object.fromEntries(Object.entries(event.values).map(([key, value]) => [key.replace(/:bloop\d+\//, ':'), value]));
}

/** Runs Bloop on vectors in float64: the reference rule, written directly on arrays. */
export function referenceBloop(
  steps: ReadonlyArray<{ main: readonly number[]; auxiliary: readonly number[] }>,
  settings: { ema: number; lambda: number; eps: number; variant: 'bloop' | 'dynamic-barrier' | 'ema-pcgrad'; init: 'grad' | 'zeros' },
): Array<{ direction: number[]; mainEma: number[]; auxiliaryEma: number[]; ratio: number }> {
  const dot = (a: readonly number[], b: readonly number[]) => a.reduce((total, value, i) => total + value * b[i]!, 0);
  const update = (ema: readonly number[], gradient: readonly number[]) => ema.map((value, i) => value + settings.ema * (gradient[i]! - value));
  const ratioOf = (reference: readonly number[], vector: readonly number[], upper?: number) => {
    const ratio = dot(reference, vector) / (dot(reference, reference) + settings.eps);
    return upper === undefined ? ratio : Math.min(ratio, upper);
  };
  let mainEma: number[] | undefined;
  let auxiliaryEma: number[] | undefined;
  return steps.map(({ main, auxiliary }) => {
    mainEma = update(mainEma ?? (settings.init === 'grad' ? [...main] : main.map(() => 0)), main);
    auxiliaryEma = update(auxiliaryEma ?? (settings.init === 'grad' ? [...auxiliary] : auxiliary.map(() => 0)), auxiliary);
    if (settings.variant === 'ema-pcgrad') {
      const ratio = ratioOf(mainEma, auxiliary, 0);
      const mainRatio = ratioOf(auxiliaryEma, main, 0);
      const direction = main.map((value, i) => value - mainRatio * auxiliaryEma![i]! + settings.lambda * (auxiliary[i]! - ratio * mainEma![i]!));
      return { direction, mainEma: [...mainEma], auxiliaryEma: [...auxiliaryEma], ratio };
    }
    const ratio = ratioOf(mainEma, auxiliary, settings.variant === 'dynamic-barrier' ? 1 / settings.lambda : undefined);
    const direction = main.map((value, i) => value + settings.lambda * (auxiliary[i]! - ratio * mainEma![i]!));
    return { direction, mainEma: [...mainEma], auxiliaryEma: [...auxiliaryEma], ratio };
  });
}
