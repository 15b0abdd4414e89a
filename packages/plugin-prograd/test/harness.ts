import * as tf from '@tensorflow/tfjs';

import { definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { PluginSpec, SessionOptions, StateEvent } from '@gradhooks/core';
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
  /** `tf.memory().numTensors` after the step. */
  tensors: number;
}

/**
 * Runs `plugins` for several steps on given gradients: objective k of step t
 * returns exactly `steps[t][k]` as its gradients. An observer at
 * `Stage.OBSERVE` reads the objective gradients after the plugins and the
 * combined gradients before the optimizer. Variables are created from the
 * union of the names, shaped like their first non-null value. Throws when
 * tensors remain allocated once the optimizer and variables are disposed.
 */
export function runSteps(plugins: readonly PluginSpec[], steps: readonly StepGradients[], session: Omit<SessionOptions, 'plugins'> = {}): StepRun[] {
  const start = tf.memory().numTensors;
  counter += 1;
  const prefix = `prograd${counter}`;
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

  const optimizer = new HookedOptimizer(tf.train.sgd(0), { ...session, plugins: [...plugins, observer] });
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
  return { applied: false, output: {}, objectives: [], keys: {}, states: [], tensors: 0 };
}

/** Returns the first state event's values, with the harness's variable prefix removed from per-variable keys. */
export function stateValues(run: StepRun): Record<string, number | string | boolean> {
  const event = run.states[0];
  if (event === undefined) {
    throw new Error('no state event was emitted on this step');
  }
  return Object.fromEntries(Object.entries(event.values).map(([key, value]) => [key.replace(/:prograd\d+\//, ':'), value]));
}

/** ProGrad on one vector pair in float64, written directly on arrays. */
export function referenceProgradVector(task: readonly number[], general: readonly number[], lambda: number): number[] {
  const dot = task.reduce((total, value, i) => total + value * general[i]!, 0);
  const squaredNorm = general.reduce((total, value) => total + value * value, 0);
  if (!(dot < 0) || !(squaredNorm > 0)) {
    return [...task];
  }
  return task.map((value, i) => value - (lambda * dot * general[i]!) / squaredNorm);
}
