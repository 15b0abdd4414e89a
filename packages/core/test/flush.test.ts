import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { definePlugin, HookedOptimizer, mapGradients, Stage } from '@gradhooks/core';
import type { GradientMap, ObjectiveGradients } from '@gradhooks/core';

import { uniquePrefix } from './helpers.js';

/** A minimal accumulation window, enough to exercise flushing: sums per objective, averages on release. */
const windowOf = definePlugin<{ size: number }>({
  name: 'window',
  description: 'holds gradients back for a window of micro-steps',
  options: { type: 'object', properties: { size: { type: 'integer', minimum: 1, default: 2 } }, additionalProperties: false },
  stage: Stage.ACCUMULATE,
  create(options) {
    let pending: ObjectiveGradients = {};
    let count = 0;
    const release = () => {
      const averaged: ObjectiveGradients = {};
      for (const [objective, map] of Object.entries(pending)) {
        averaged[objective] = mapGradients(map, (gradient) => tf.div(gradient, count));
      }
      return averaged;
    };
    const clear = () => {
      for (const map of Object.values(pending)) {
        tf.dispose(Object.values(map).filter((tensor): tensor is tf.Tensor => tensor !== null));
      }
      pending = {};
      count = 0;
    };
    return {
      objectiveGradients: (gradients, step) => {
        if (step.flushing) {
          if (count === 0) {
            return {};
          }
          const released = release();
          step.onCommit(clear);
          return released;
        }
        const next: ObjectiveGradients = {};
        for (const [objective, map] of Object.entries(gradients)) {
          const sum: GradientMap = {};
          for (const [name, gradient] of Object.entries(map)) {
            const previous = pending[objective]?.[name];
            sum[name] = gradient === null ? null : tf.keep(previous == null ? tf.clone(gradient) : tf.add(previous, gradient));
          }
          next[objective] = sum;
        }
        const keep = () => {
          const old = pending;
          pending = next;
          count += 1;
          for (const map of Object.values(old)) {
            tf.dispose(Object.values(map).filter((tensor): tensor is tf.Tensor => tensor !== null));
          }
        };
        if (count + 1 < options.size) {
          step.skip('accumulating', { commit: keep });
        }
        keep();
        const released = release();
        step.onCommit(clear);
        return released;
      },
      dispose: clear,
    };
  },
});

describe('flush', () => {
  it('applies a partial window and then skips', () => {
    const prefix = uniquePrefix('flush');
    const w = tf.variable(tf.tensor1d([0, 0]), true, `${prefix}/w`);
    const optimizer = new HookedOptimizer(tf.train.sgd(1), { plugins: [windowOf({ size: 2 })] });
    const gradientsAt = [
      [1, 2],
      [3, 4],
      [5, 6],
    ];
    const results = gradientsAt.map((values) =>
      optimizer.step({ loss: () => tf.sum(tf.mul(w, tf.tensor1d(values))) as tf.Scalar }, { variables: [w] }),
    );
    expect(results.map((result) => result.applied)).toEqual([false, true, false]);
    expect(results[0]!.skipReason).toBe('accumulating');
    expect(Array.from(w.dataSync())).toEqual([-2, -3]);
    const flushed = optimizer.flush({ variables: [w] });
    expect(flushed.applied).toBe(true);
    expect(Array.from(w.dataSync())).toEqual([-7, -9]);
    const empty = optimizer.flush({ variables: [w] });
    expect(empty).toMatchObject({ applied: false, skipReason: 'nothing to flush' });
    expect(optimizer.iterations).toBe(2);
    optimizer.dispose();
    w.dispose();
  });

  it('skips a flush without plugins holding gradients', () => {
    const prefix = uniquePrefix('idle');
    const w = tf.variable(tf.tensor1d([1]), true, `${prefix}/w`);
    const optimizer = new HookedOptimizer(tf.train.adam(0.1));
    const before = tf.memory().numTensors;
    expect(optimizer.flush({ variables: [w] })).toMatchObject({ applied: false, skipReason: 'nothing to flush' });
    expect(optimizer.iterations).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    w.dispose();
  });
});
