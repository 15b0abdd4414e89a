import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode, HookedOptimizer, TensorState } from '@gradhooks/core';
import type { PluginInstance } from '@gradhooks/core';

import { tapPlugin, twoObjectiveProblem } from './helpers.js';

function runSteps(create: () => PluginInstance, steps: number, options: { leakCheck?: { steps: number } | false } = {}) {
  const problem = twoObjectiveProblem();
  const optimizer = new HookedOptimizer(tf.train.sgd(0.01), { plugins: [tapPlugin('suspect', create)], ...options });
  let error: unknown;
  let completed = 0;
  try {
    for (let i = 0; i < steps; i++) {
      optimizer.step(problem.objectives, { variables: problem.variables });
      completed += 1;
    }
  } catch (caught) {
    error = caught;
  } finally {
    optimizer.dispose();
    problem.dispose();
  }
  return { error, completed };
}

describe('leak check', () => {
  it('names a plugin that keeps a tensor every step', () => {
    const leaked: tf.Tensor[] = [];
    const { error, completed } = runSteps(
      () => ({
        gradients: (gradients) => {
          leaked.push(tf.keep(tf.scalar(1)));
          return gradients;
        },
      }),
      20,
    );
    expect(error).toMatchObject({ code: ErrorCode.ERR_PLUGIN_LEAK, plugin: 'suspect' });
    expect((error as Error).message).toContain('keeps about 1.0 more tensor(s) alive after every step');
    expect(completed).toBe(5);
    tf.dispose(leaked);
  });

  it('names a plugin that creates a variable every step', () => {
    const created: tf.Variable[] = [];
    const { error } = runSteps(
      () => ({
        gradients: (gradients) => {
          created.push(tf.variable(tf.scalar(0)));
          return gradients;
        },
      }),
      20,
      { leakCheck: { steps: 3 } },
    );
    expect(error).toMatchObject({ code: ErrorCode.ERR_PLUGIN_LEAK, plugin: 'suspect' });
    tf.dispose(created);
  });

  it('accepts state replaced through TensorState', () => {
    const state = new TensorState();
    const { error, completed } = runSteps(
      () => ({
        gradients: (gradients, step) => {
          state.stage(step, tf.add(state.current ?? tf.scalar(0), 1));
          return gradients;
        },
      }),
      12,
    );
    expect(error).toBeUndefined();
    expect(completed).toBe(12);
    state.dispose();
  });

  it('accepts kept tensors that are replaced and disposed', () => {
    let previous: tf.Tensor | undefined;
    const { error } = runSteps(
      () => ({
        gradients: (gradients) => {
          const next = tf.keep(tf.scalar(2));
          previous?.dispose();
          previous = next;
          return gradients;
        },
      }),
      12,
    );
    expect(error).toBeUndefined();
    previous?.dispose();
  });

  it('can be turned off', () => {
    const leaked: tf.Tensor[] = [];
    const { error } = runSteps(
      () => ({
        gradients: (gradients) => {
          leaked.push(tf.keep(tf.scalar(1)));
          return gradients;
        },
      }),
      12,
      { leakCheck: false },
    );
    expect(error).toBeUndefined();
    tf.dispose(leaked);
  });
});
