import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, fanOut, HookedOptimizer, Stage } from '@gradhooks/core';
import type { ConflictEvent, DryRunEvent, GradientLevel, Logger, PluginSpec, ProjectionEvent, StateEvent } from '@gradhooks/core';

import type { Matrix } from './samplers.js';

/** Output of an aggregator on one step. */
export interface AggregationStep {
  /** The combined gradient: Σ over the update of the Jacobian's rows, as applied. */
  output: number[];
  conflicts: ConflictEvent[];
  projections: ProjectionEvent[];
  dryRuns: DryRunEvent[];
  states: StateEvent[];
  /** Whether the optimizer applied the step. */
  applied: boolean;
}

/** Options of `aggregateJacobians`. */
export interface AggregateOptions {
  /** Parameter level (default): each row is an objective's gradient of one variable. Representation level: each row is an objective's gradient with respect to a fanned-out representation. */
  level?: GradientLevel;
  /** Session seed; plugins without their own seed derive theirs from it. */
  seed?: number;
  logger?: Logger;
  /** Objective names; `task0`, `task1`, ... when omitted. */
  objectives?: readonly string[];
}

let runs = 0;

/**
 * Runs `plugin` through a real session for one step per Jacobian in
 * `jacobians` (each K×P, rows are objective gradients), and returns the
 * combined gradient of each step with the telemetry it emitted. The same
 * session serves every step, so stateful plugins carry their state across.
 * Tensors the run creates are disposed before it returns.
 *
 * @example
 * ```ts
 * const [step] = aggregateJacobians(upgrad(), [[[-4, 1, 1], [6, 1, 1]]]);
 * step.output; // ≈ [0.2929, 1.9004, 1.9004]
 * ```
 */
export function aggregateJacobians(plugin: PluginSpec, jacobians: readonly Matrix[], options: AggregateOptions = {}): AggregationStep[] {
  runs += 1;
  const level = options.level ?? 'parameter';
  const count = jacobians[0]!.length;
  const size = jacobians[0]![0]!.length;
  const names = options.objectives ?? Array.from({ length: count }, (_, k) => `task${k}`);
  // tidy disposes the initial zeros; the variable survives it.
  const variable = tf.tidy(() => tf.variable(tf.zeros(level === 'parameter' ? [size] : [1, size]), true, `testing${runs}/w`));
  let current = emptyStep();
  const observer = definePlugin({
    name: 'testing-observer',
    description: 'reads the combined gradient',
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage: Stage.OBSERVE,
    create: () => ({
      gradients: (gradients) => {
        const tensor = gradients[variable.name];
        current.output = tensor == null ? new Array<number>(size).fill(0) : Array.from(tensor.dataSync());
        return gradients;
      },
    }),
  })();
  const optimizer = new HookedOptimizer(tf.train.sgd(0), {
    plugins: [plugin, observer],
    level,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  optimizer.telemetry.on('conflict', (event) => current.conflicts.push(event));
  optimizer.telemetry.on('projection', (event) => current.projections.push(event));
  optimizer.telemetry.on('dryRun', (event) => current.dryRuns.push(event));
  optimizer.telemetry.on('state', (event) => current.states.push(event));
  const steps: AggregationStep[] = [];
  try {
    for (const jacobian of jacobians) {
      current = emptyStep();
      const rows = jacobian.map((row) => [...row]);
      const result = optimizer.step(level === 'parameter' ? parameterObjectives(names, rows, variable.name) : representationObjectives(names, rows, variable), {
        variables: [variable],
      });
      current.applied = result.applied;
      steps.push(current);
    }
  } finally {
    optimizer.dispose();
    variable.dispose();
  }
  return steps;
}

/** Runs `plugin` for one step on one Jacobian and returns the combined gradient. */
export function aggregateJacobian(plugin: PluginSpec, jacobian: Matrix, options: AggregateOptions = {}): number[] {
  return aggregateJacobians(plugin, [jacobian], options)[0]!.output;
}

function emptyStep(): AggregationStep {
  return { output: [], conflicts: [], projections: [], dryRuns: [], states: [], applied: false };
}

function parameterObjectives(names: readonly string[], rows: Matrix, variable: string) {
  return Object.fromEntries(
    names.map((name, k) => [
      name,
      { gradients: () => ({ value: tf.scalar(0), grads: { [variable]: tf.tensor1d(rows[k]!) } }) },
    ]),
  );
}

/** Each objective's loss is ⟨slice_k, row_k⟩, so its gradient with respect to its slice of the fan-out is row k. */
function representationObjectives(names: readonly string[], rows: Matrix, variable: tf.Variable) {
  let slices: tf.Tensor[] = [];
  return Object.fromEntries(
    names.map((name, k) => [
      name,
      {
        loss: () => {
          if (k === 0) {
            slices = fanOut(variable, names);
          }
          return tf.sum(tf.mul(slices[k]!, tf.tensor2d([rows[k]!]))) as tf.Scalar;
        },
      },
    ]),
  );
}
