import * as tf from '@tensorflow/tfjs';

import { definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { ClipEvent, PluginSpec } from '@gradhooks/core';
import { fromSpec } from '@gradhooks/testing';

let counter = 0;

/** Runs `plugins` for one step on one objective whose gradients are exactly `gradients`; returns what reached the optimizer. */
export function runOnGradients(
  plugins: readonly PluginSpec[],
  gradients: Record<string, unknown>,
  options: { guard?: boolean } = {},
): { output: Record<string, unknown>; clips: ClipEvent[]; applied: boolean; error?: unknown } {
  counter += 1;
  const prefix = `clip${counter}`;
  const values = fromSpec(gradients) as Record<string, number[]>;
  const variables = Object.entries(values).map(([name, value]) => tf.variable(tf.zerosLike(tf.tensor(value)), true, `${prefix}/${name}`));
  const output: Record<string, unknown> = {};
  const observer = definePlugin({
    name: 'observer',
    description: 'reads the combined gradients',
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage: Stage.OBSERVE,
    create: () => ({
      gradients: (combined) => {
        for (const [name, tensor] of Object.entries(combined)) {
          output[name.slice(prefix.length + 1)] = tensor === null ? null : tensor.arraySync();
        }
        return combined;
      },
    }),
  })();
  const optimizer = new HookedOptimizer(tf.train.sgd(0), { plugins: [...plugins, observer], guard: options.guard ?? true });
  const clips: ClipEvent[] = [];
  optimizer.telemetry.on('clip', (event) => clips.push(event));
  let applied = false;
  let error: unknown;
  try {
    applied = optimizer.step(
      {
        loss: {
          gradients: () => ({
            value: tf.scalar(0),
            grads: Object.fromEntries(Object.entries(values).map(([name, value]) => [`${prefix}/${name}`, tf.tensor(value)])),
          }),
        },
      },
      { variables },
    ).applied;
  } catch (caught) {
    error = caught;
  } finally {
    optimizer.dispose();
    tf.dispose(variables);
  }
  return { output, clips, applied, ...(error === undefined ? {} : { error }) };
}
