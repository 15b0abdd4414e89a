import * as tf from '@tensorflow/tfjs';

import { definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { ConflictEvent, Logger, PluginSpec, ProjectionEvent } from '@gradhooks/core';

let counter = 0;

/** Per-objective gradients, keyed by variable name; arrays are nested like the tensor. */
export type ObjectiveInput = Record<string, unknown>;

/** What one step of an aggregator produced. */
export interface AggregatorRun {
  /** Combined gradient per variable (null when no objective reached it). */
  output: Record<string, number[] | null>;
  conflicts: ConflictEvent[];
  projections: ProjectionEvent[];
}

/**
 * Runs `plugins` for one step on given objective gradients: each objective
 * of the step returns exactly `tasks[k]` as its gradients, and an observer
 * at the end of the `gradients` hook reads the combined result.
 */
export function runAggregator(
  plugins: readonly PluginSpec[],
  tasks: readonly ObjectiveInput[],
  options: { steps?: number; seed?: number; logger?: Logger } = {},
): AggregatorRun[] {
  counter += 1;
  const prefix = `agg${counter}`;
  const names = [...new Set(tasks.flatMap((task) => Object.keys(task)))];
  const variables = names.map((name) => {
    const sample = tasks.find((task) => name in task)![name];
    return tf.variable(tf.zerosLike(tf.tensor(sample as number[])), true, `${prefix}/${name}`);
  });
  const runs: AggregatorRun[] = [];
  let current: AggregatorRun = { output: {}, conflicts: [], projections: [] };
  const observer = definePlugin({
    name: 'observer',
    description: 'reads the combined gradients',
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage: Stage.OBSERVE,
    create: () => ({
      gradients: (gradients) => {
        for (const [name, tensor] of Object.entries(gradients)) {
          current.output[name.slice(prefix.length + 1)] = tensor === null ? null : Array.from(tensor.dataSync());
        }
        return gradients;
      },
    }),
  })();
  const optimizer = new HookedOptimizer(tf.train.sgd(0), {
    plugins: [...plugins, observer],
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  optimizer.telemetry.on('conflict', (event) => current.conflicts.push(event));
  optimizer.telemetry.on('projection', (event) => current.projections.push(event));
  const objectives = Object.fromEntries(
    tasks.map((task, k) => [
      `task${k}`,
      {
        gradients: () => ({
          value: tf.scalar(0),
          grads: Object.fromEntries(Object.entries(task).map(([name, values]) => [`${prefix}/${name}`, tf.tensor(values as number[])])),
        }),
      },
    ]),
  );
  try {
    for (let i = 0; i < (options.steps ?? 1); i++) {
      current = { output: {}, conflicts: [], projections: [] };
      optimizer.step(objectives, { variables });
      runs.push(current);
    }
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  return runs;
}

/** Runs one step on a Jacobian whose rows are the objective gradients of one variable `w`. */
export function runOnJacobian(plugins: readonly PluginSpec[], jacobian: readonly (readonly number[])[], options: { seed?: number } = {}): AggregatorRun {
  return runAggregator(plugins, jacobian.map((row) => ({ w: [...row] })), options)[0]!;
}

/** Projects row i of `jacobian` away from every conflicting original row, in float64: PCGrad computed directly on vectors. */
export function referencePcgrad(jacobian: readonly (readonly number[])[], order: readonly (readonly number[])[], reduction: 'sum' | 'mean' = 'sum'): { projected: number[][]; combined: number[] } {
  const dot = (a: readonly number[], b: readonly number[]) => a.reduce((total, value, i) => total + value * b[i]!, 0);
  const projected = jacobian.map((row, i) => {
    const current = [...row];
    for (const j of order[i]!) {
      const other = jacobian[j]!;
      const squaredNorm = dot(other, other);
      const product = dot(current, other);
      if (squaredNorm > 0 && product < 0) {
        other.forEach((value, l) => {
          current[l] = current[l]! - (product / squaredNorm) * value;
        });
      }
    }
    return current;
  });
  const combined = jacobian[0]!.map((_, l) => projected.reduce((total, row) => total + row[l]!, 0) / (reduction === 'mean' ? jacobian.length : 1));
  return { projected, combined };
}
