import * as tf from '@tensorflow/tfjs';

import { definePlugin, Stage } from '@gradhooks/core';
import type { ObjectiveSource, PluginSpec } from '@gradhooks/core';

let counter = 0;

/** Returns a variable-name prefix that no other test in this process uses (tfjs names are global). */
export function uniquePrefix(label: string): string {
  counter += 1;
  return `${label}${counter}`;
}

/** Creates a plugin that records the combined gradient after every other plugin ran, as plain arrays by variable name. */
export function recorder(): { plugin: PluginSpec; steps: Array<Record<string, number[] | null>> } {
  const steps: Array<Record<string, number[] | null>> = [];
  const plugin = definePlugin({
    name: 'gradient-recorder',
    description: 'records the combined gradient',
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage: Stage.OBSERVE,
    create: () => ({
      gradients: (gradients) => {
        steps.push(Object.fromEntries(Object.entries(gradients).map(([name, tensor]) => [name, tensor === null ? null : Array.from(tensor.dataSync())])));
        return gradients;
      },
    }),
  })();
  return { plugin, steps };
}

/** Creates a plugin that skips the step on the given step calls (1-based), in `beforeApply`. */
export function skipOnCalls(calls: readonly number[]): PluginSpec {
  return definePlugin({
    name: 'skip-on-calls',
    description: 'skips chosen step calls',
    options: { type: 'object', properties: {}, additionalProperties: false },
    create: () => ({
      beforeApply: (_gradients, step) => (calls.includes(step.call) ? 'skipped by the test' : undefined),
    }),
  })();
}

/**
 * Creates a least-squares problem on one variable: loss = mean((X w - y)^2) with a
 * fixed seeded X and y, so each update depends on the previous ones.
 */
export function leastSquares(prefix = uniquePrefix('noise')) {
  // tidy disposes the initial value; the variable survives it.
  const weights = tf.tidy(() => tf.variable(tf.tensor1d([0.5, -0.25, 1, 0, 2]), true, `${prefix}/w`));
  const inputs = tf.keep(tf.randomNormal([16, 5], 0, 1, 'float32', 3));
  const targets = tf.keep(tf.randomNormal([16], 0, 1, 'float32', 4));
  const objective: ObjectiveSource = {
    loss: () => tf.mean(tf.square(tf.sub(tf.squeeze(tf.matMul(inputs, tf.reshape(weights, [5, 1]))), targets))) as tf.Scalar,
  };
  return {
    weights,
    objectives: { loss: objective },
    dispose: () => tf.dispose([weights, inputs, targets]),
  };
}
