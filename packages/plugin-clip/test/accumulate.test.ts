import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { definePlugin, ErrorCode, HookedOptimizer, Stage } from '@gradhooks/core';
import type { GradientMap, ObjectiveGradients, PluginSpec } from '@gradhooks/core';
import { accumulate, addObjectiveGradients, clipGlobalNorm, divideObjectiveGradients } from '@gradhooks/plugin-clip';
import { assertAllClose, assertNoLeak } from '@gradhooks/testing';

import { collect, gradientFeeder, uniquePrefix } from './helpers.js';

/** A plugin that records what one hook receives: per-objective maps or the combined map, as numbers. */
function spy(hook: 'aggregate' | 'gradients', stage: number): { plugin: PluginSpec; calls: unknown[] } {
  const calls: unknown[] = [];
  const read = (map: GradientMap) => Object.fromEntries(Object.entries(map).map(([name, tensor]) => [name.split('/').pop(), tensor === null ? null : Array.from(tensor.dataSync())]));
  const plugin = definePlugin({
    name: `spy-${hook}`,
    description: `records the ${hook} hook`,
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage,
    create: () =>
      hook === 'aggregate'
        ? {
            aggregate: (gradients: ObjectiveGradients) => {
              calls.push(Object.fromEntries(Object.entries(gradients).map(([objective, map]) => [objective, read(map)])));
              return undefined;
            },
          }
        : {
            gradients: (gradients: GradientMap) => {
              calls.push(read(gradients));
              return gradients;
            },
          },
  })();
  return { plugin, calls };
}

describe('accumulate windows', () => {
  it('skips micro-steps and applies the average once per window', () => {
    const feeder = gradientFeeder([accumulate({ steps: 3 })], { w: [0, 0] });
    const results = [[3, 0], [0, 3], [6, 6], [1, 1]].map((w) => feeder.step({ w }));
    expect(results.map((result) => result.applied)).toEqual([false, false, true, false]);
    expect(results[0]).toMatchObject({ skippedBy: 'accumulate', skipReason: 'accumulating: micro-batch 1 of 3' });
    expect(results[1]!.skipReason).toBe('accumulating: micro-batch 2 of 3');
    expect(feeder.values()['w']).toEqual([-3, -3]);
    expect(feeder.optimizer.iterations).toBe(1);
    feeder.dispose();
  });

  it('flushes a partial window divided by its own count', () => {
    const feeder = gradientFeeder([accumulate({ steps: 3 })], { w: [0, 0] });
    feeder.step({ w: [2, 4] });
    feeder.step({ w: [4, 8] });
    const flushed = feeder.optimizer.flush({ variables: feeder.variables });
    expect(flushed.applied).toBe(true);
    expect(feeder.values()['w']).toEqual([-3, -6]);
    expect(feeder.optimizer.flush({ variables: feeder.variables })).toMatchObject({ applied: false, skipReason: 'nothing to flush' });
    // The next window starts empty.
    [[1, 1], [1, 1], [1, 1]].forEach((w) => feeder.step({ w }));
    expect(feeder.values()['w']).toEqual([-4, -7]);
    feeder.dispose();
  });

  it('runs aggregation and clipping once per window on per-objective averages', () => {
    const aggregate = spy('aggregate', Stage.SURGERY);
    const clip = spy('gradients', Stage.CLIP + 1);
    const prefix = uniquePrefix('objectives');
    const w = tf.variable(tf.zeros([2]), true, `${prefix}/w`);
    const optimizer = new HookedOptimizer(tf.train.sgd(1), { plugins: [accumulate({ steps: 2 }), aggregate.plugin, clipGlobalNorm({ maxNorm: 100 }), clip.plugin] });
    const feed = (left: number[], right: number[]) =>
      optimizer.step(
        {
          left: { gradients: () => ({ value: tf.scalar(0), grads: { [w.name]: tf.tensor1d(left) } }) },
          right: { gradients: () => ({ value: tf.scalar(0), grads: { [w.name]: tf.tensor1d(right) } }) },
        },
        { variables: [w] },
      );
    feed([1, 0], [0, 4]);
    feed([3, 0], [0, 8]);
    expect(aggregate.calls).toEqual([{ left: { w: [2, 0] }, right: { w: [0, 6] } }]);
    expect(clip.calls).toEqual([{ w: [2, 6] }]);
    optimizer.dispose();
    w.dispose();
  });

  it('keeps nulls and averages a partly reached variable with zeros', () => {
    const feeder = gradientFeeder([accumulate({ steps: 2 })], { w: [0], v: [0], u: [0] });
    feeder.step({ w: [2], v: null, u: null });
    feeder.step({ w: [4], v: [6], u: null });
    expect(feeder.values()).toEqual({ w: [-3], v: [-3], u: [0] });
    feeder.dispose();
  });

  it('keeps the window when the completing step fails', () => {
    let fail = true;
    const failing = definePlugin({
      name: 'failing',
      description: 'throws once',
      options: { type: 'object', properties: {}, additionalProperties: false },
      stage: Stage.NOISE,
      create: () => ({
        gradients: (gradients: GradientMap) => {
          if (fail) {
            fail = false;
            throw new Error('runtime failure');
          }
          return gradients;
        },
      }),
    })();
    const feeder = gradientFeeder([accumulate({ steps: 2 }), failing], { w: [0] });
    feeder.step({ w: [2] });
    const before = tf.memory().numTensors;
    expect(() => feeder.step({ w: [100] })).toThrowError(expect.objectContaining({ plugin: 'failing' }));
    expect(tf.memory().numTensors).toBe(before);
    expect(feeder.step({ w: [4] }).applied).toBe(true);
    expect(feeder.values()['w']).toEqual([-3]);
    feeder.dispose();
  });

  it('reports the window in state events', () => {
    const feeder = gradientFeeder([accumulate({ steps: 2 })], { w: [0] });
    const states = collect(feeder.optimizer, 'state');
    feeder.step({ w: [1] });
    feeder.step({ w: [1] });
    expect(states.map((event) => event.values)).toEqual([
      { accumulated: 1, steps: 2 },
      { accumulated: 2, steps: 2 },
    ]);
    feeder.dispose();
  });

  it('passes gradients through with steps 1', () => {
    const feeder = gradientFeeder([accumulate({ steps: 1 })], { w: [0] });
    expect(feeder.step({ w: [2] }).applied).toBe(true);
    expect(feeder.values()['w']).toEqual([-2]);
    feeder.dispose();
  });

  it('rejects a variables option', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(1), { plugins: [accumulate({ steps: 2, variables: ['dense/**'] })] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/variables' }),
    );
  });

  it('rejects a dry run', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(1), { plugins: [accumulate({ steps: 2, dryRun: true })] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/dryRun' }),
    );
  });

  it('rejects a saved window as long as steps', async () => {
    const feeder = gradientFeeder([accumulate({ steps: 2 })], { w: [0] });
    const checkpoint = await feeder.optimizer.saveCheckpoint();
    checkpoint.plugins[0]!.state = { count: 2, steps: 2, sums: {} };
    await expect(feeder.optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: ErrorCode.ERR_PLUGIN_STATE_INVALID, path: '/count' });
    feeder.dispose();
  });
});

describe('accumulate math', () => {
  it('sums and divides without leaking', async () => {
    const a = tf.tensor1d([1, 2]);
    const b = tf.tensor1d([3, 4]);
    await assertNoLeak(() => {
      const sums = addObjectiveGradients({ x: { w: a, v: null } }, { x: { w: b, v: null }, y: { w: a } }, ['w', 'v']);
      const averaged = divideObjectiveGradients(sums, 2);
      assertAllClose(averaged['x']!['w']!, [2, 3]);
      expect(averaged['x']!['v']).toBeNull();
      assertAllClose(averaged['y']!['w']!, [0.5, 1]);
      tf.dispose([sums['x']!['w']!, sums['y']!['w']!, averaged['x']!['w']!, averaged['y']!['w']!]);
    });
    tf.dispose([a, b]);
  });
});
