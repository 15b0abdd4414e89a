import * as tf from '@tensorflow/tfjs';

import { definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { FreezeEvent, GradientMap, Logger, PluginSpec, SessionOptions } from '@gradhooks/core';

let counter = 0;

/** Returns a variable-name prefix no other test in this process uses. */
export function uniquePrefix(stem: string): string {
  counter += 1;
  return `${stem}${counter}`;
}

/** Reads a gradient map into arrays, keyed by the name without `prefix/` (the full name when `prefix` is empty). */
function readMap(map: GradientMap, prefix: string): Record<string, number[] | null> {
  const result: Record<string, number[] | null> = {};
  for (const [name, tensor] of Object.entries(map)) {
    result[prefix === '' ? name : name.slice(prefix.length + 1)] = tensor === null ? null : Array.from(tensor.dataSync());
  }
  return result;
}

/** What an observer saw on one step. */
export interface ObservedStep {
  /** Each objective's gradients after every per-objective plugin ran. */
  objectives: Record<string, Record<string, number[] | null>>;
  /** The combined gradient that reached the optimizer. */
  combined: Record<string, number[] | null>;
}

/** Creates an observer at Stage.OBSERVE that records the objective maps and the combined gradient of each step into `steps`. */
export function observer(prefix: string, steps: ObservedStep[]): PluginSpec {
  let current: ObservedStep = { objectives: {}, combined: {} };
  return definePlugin({
    name: 'observer',
    description: 'records the gradients of each step',
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage: Stage.OBSERVE,
    create: () => ({
      objectiveGradients: (gradients) => {
        current = { objectives: {}, combined: {} };
        steps.push(current);
        for (const [objective, map] of Object.entries(gradients)) {
          current.objectives[objective] = readMap(map, prefix);
        }
        return gradients;
      },
      gradients: (gradients) => {
        current.combined = readMap(gradients, prefix);
        return gradients;
      },
    }),
  })();
}

/** Gradients one objective returns on one step, by variable name without the prefix; a missing name is not reached. */
export type StepGradients = Record<string, number | number[]>;

/** A run of fixed gradients through a session. */
export interface FixedRun {
  steps: ObservedStep[];
  freezes: FreezeEvent[];
  results: Array<{ applied: boolean; skipReason?: string }>;
  optimizer: HookedOptimizer;
  variables: tf.Variable[];
  prefix: string;
}

/**
 * Runs one session step per entry of `schedule`. Each objective of an entry
 * returns exactly the given gradients; variables are created from the shapes
 * in `shapes` (scalars by default) under a fresh prefix. The optimizer is SGD
 * with learning rate 0, so weights never move. Call `dispose` on the result.
 */
export function runFixedGradients(
  plugins: readonly PluginSpec[],
  schedule: ReadonlyArray<Record<string, StepGradients>>,
  options: { shapes?: Record<string, number[]>; session?: Omit<SessionOptions, 'plugins'>; logger?: Logger; keep?: boolean } = {},
): FixedRun {
  const prefix = uniquePrefix('gq');
  const names = [...new Set(schedule.flatMap((entry) => Object.values(entry).flatMap((map) => Object.keys(map))))];
  // tf.tidy frees the initial values; tidy never disposes variables.
  const variables = names.map((name) => tf.tidy(() => tf.variable(tf.zeros(options.shapes?.[name] ?? []), true, `${prefix}/${name}`)));
  const steps: ObservedStep[] = [];
  const optimizer = new HookedOptimizer(tf.train.sgd(0), {
    ...options.session,
    plugins: [...plugins, observer(prefix, steps)],
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const freezes: FreezeEvent[] = [];
  optimizer.telemetry.on('freeze', (event) => freezes.push({ ...event, layer: event.layer.slice(prefix.length + 1) }));
  const results: FixedRun['results'] = [];
  for (const entry of schedule) {
    const objectives = Object.fromEntries(
      Object.entries(entry).map(([objective, gradients]) => [
        objective,
        {
          gradients: () => ({
            value: tf.scalar(0),
            grads: Object.fromEntries(Object.entries(gradients).map(([name, value]) => [`${prefix}/${name}`, tf.tensor(value, options.shapes?.[name] ?? [])])),
          }),
        },
      ]),
    );
    const result = optimizer.step(objectives, { variables });
    results.push({ applied: result.applied, ...(result.skipReason === undefined ? {} : { skipReason: result.skipReason }) });
  }
  return { steps, freezes, results, optimizer, variables, prefix };
}

/** Frees what `runFixedGradients` created. */
export function disposeRun(run: FixedRun): void {
  run.optimizer.dispose();
  tf.dispose(run.variables);
}

/** Creates a logger that stores its warnings. */
export function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug: () => {},
    info: () => {},
    warn: (message: string) => void warnings.push(message),
    error: () => {},
  };
}
