import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { PluginSpec, SessionCheckpoint } from '@gradhooks/core';

type Matrix = number[][];

let runs = 0;

/**
 * Runs `create()` on one Jacobian per step and returns each step's combined
 * gradient. With `splitAt`, the session is checkpointed (through JSON) after
 * that many steps, disposed, and a fresh session loads the checkpoint and
 * runs the remaining steps.
 */
export async function runWithCheckpoint(create: () => PluginSpec, jacobians: readonly Matrix[], splitAt?: number): Promise<number[][]> {
  runs += 1;
  const size = jacobians[0]![0]!.length;
  const variable = tf.tidy(() => tf.variable(tf.zeros([size]), true, `resume${runs}/w`));
  const outputs: number[][] = [];
  const observer = () =>
    definePlugin({
      name: 'resume-observer',
      description: 'reads the combined gradient',
      options: { type: 'object', properties: {}, additionalProperties: false },
      stage: Stage.OBSERVE,
      create: () => ({
        gradients: (gradients) => {
          outputs.push(Array.from(gradients[variable.name]!.dataSync()));
          return gradients;
        },
      }),
    })();
  const open = () => new HookedOptimizer(tf.train.sgd(0), { plugins: [create(), observer()], seed: 3 });
  const step = (optimizer: HookedOptimizer, jacobian: Matrix) =>
    optimizer.step(
      Object.fromEntries(jacobian.map((row, k) => [`task${k}`, { gradients: () => ({ value: tf.scalar(0), grads: { [variable.name]: tf.tensor1d(row) } }) }])),
      { variables: [variable] },
    );
  let optimizer = open();
  try {
    for (let i = 0; i < jacobians.length; i++) {
      if (i === splitAt) {
        const checkpoint = JSON.parse(JSON.stringify(await optimizer.saveCheckpoint())) as SessionCheckpoint;
        optimizer.dispose();
        optimizer = open();
        await optimizer.loadCheckpoint(checkpoint);
      }
      step(optimizer, jacobians[i]!);
    }
  } finally {
    optimizer.dispose();
    variable.dispose();
  }
  return outputs;
}
