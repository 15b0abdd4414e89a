import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { decodeTensor, definePlugin, encodeTensor, ErrorCode, HookedOptimizer, TensorState } from '@gradhooks/core';
import type { EncodedTensor, JsonValue, SessionCheckpoint } from '@gradhooks/core';

import { firstDifference, snapshot, uniquePrefix } from './helpers.js';

const optimizers: Record<string, () => tf.Optimizer> = {
  sgd: () => tf.train.sgd(0.05),
  momentum: () => tf.train.momentum(0.05, 0.9),
  adam: () => tf.train.adam(0.05),
  adamax: () => tf.train.adamax(0.05),
  rmsprop: () => tf.train.rmsprop(0.05, 0.9, 0.1, 1e-7, true),
  adagrad: () => tf.train.adagrad(0.1),
  adadelta: () => tf.train.adadelta(0.5),
};

/** A plugin with tensor state (an EMA of the gradient) and random draws that change the update. */
const noisyEma = definePlugin({
  name: 'noisy-ema',
  description: 'adds a seeded perturbation and an EMA of past gradients to the gradient',
  options: { type: 'object', properties: {}, additionalProperties: false },
  create(_options, context) {
    const emas = new Map<string, TensorState>();
    return {
      gradients: (gradients, step) => {
        const output: Record<string, tf.Tensor | null> = {};
        for (const [name, gradient] of Object.entries(gradients)) {
          if (gradient === null) {
            output[name] = null;
            continue;
          }
          let state = emas.get(name);
          if (state === undefined) {
            state = new TensorState();
            emas.set(name, state);
          }
          const previous = state.current ?? tf.zerosLike(gradient);
          const ema = tf.add(tf.mul(previous, 0.9), tf.mul(gradient, 0.1));
          state.stage(step, ema);
          output[name] = tf.add(tf.add(gradient, ema), context.random.normal() * 0.01);
        }
        return output;
      },
      state: {
        save: () => Object.fromEntries([...emas].map(([name, state]) => [name, encodeTensor(state.current!) as unknown as JsonValue])),
        load: (saved: JsonValue) => {
          for (const [name, encoded] of Object.entries(saved as unknown as Record<string, EncodedTensor>)) {
            emas.get(name)?.dispose();
            const state = new TensorState();
            state.set(decodeTensor(encoded));
            emas.set(name, state);
          }
        },
      },
      dispose: () => emas.forEach((state) => state.dispose()),
    };
  },
});

function run(name: string, factory: () => tf.Optimizer, prefix: string) {
  const w = tf.variable(tf.tensor2d([[0.5, -1], [2, 0.25]]), true, `${prefix}/w`);
  const b = tf.variable(tf.tensor1d([0.1, -0.3]), true, `${prefix}/b`);
  const x = tf.tensor2d([[1, 2], [-1, 0.5], [0.3, -2]]);
  const y = tf.tensor2d([[0.5, 1], [1, -1], [0, 0.2]]);
  const optimizer = new HookedOptimizer(factory(), { plugins: [noisyEma({ seed: 9 })] });
  const step = () => optimizer.step({ loss: () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar }, { variables: [w, b] });
  return {
    name,
    optimizer,
    variables: [w, b],
    step,
    dispose: () => {
      optimizer.dispose();
      tf.dispose([w, b, x, y]);
    },
  };
}

describe('session checkpoint', () => {
  it('is needed: tfjs setWeights loses Adam beta powers', async () => {
    // Control for the resume tests: tfjs's Adam.setWeights recomputes the accumulated
    // beta powers with pow, while training multiplies them step by step in float32.
    const prefix = uniquePrefix('control');
    const v = tf.variable(tf.tensor1d([1, -2]), true, `${prefix}/v`);
    let mismatches = 0;
    for (let steps = 1; steps <= 40; steps++) {
      const trained = tf.train.adam(0.01);
      for (let i = 0; i < steps; i++) {
        trained.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
      }
      const restored = tf.train.adam(0.01);
      const weights = await trained.getWeights();
      await restored.setWeights(weights.map((entry) => ({ name: entry.name, tensor: tf.clone(entry.tensor) })));
      const powers = (optimizer: tf.Optimizer) => {
        const fields = optimizer as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable };
        return [fields.accBeta1.dataSync()[0], fields.accBeta2.dataSync()[0]];
      };
      const [a1, a2] = powers(trained);
      const [b1, b2] = powers(restored);
      mismatches += (a1 !== b1 ? 1 : 0) + (a2 !== b2 ? 1 : 0);
      tf.dispose(weights[0]!.tensor);
      trained.dispose();
      restored.dispose();
    }
    expect(mismatches).toBeGreaterThan(0);
    v.dispose();
  });

  it.each(Object.keys(optimizers))('resumes %s bit for bit', async (name) => {
    const factory = optimizers[name]!;
    const prefix = uniquePrefix(`resume-${name}`);

    const uninterrupted = run(name, factory, `${prefix}a`);
    for (let i = 0; i < 8; i++) {
      uninterrupted.step();
    }
    const expected = snapshot(uninterrupted.variables);
    uninterrupted.dispose();

    const first = run(name, factory, `${prefix}b`);
    for (let i = 0; i < 4; i++) {
      first.step();
    }
    const checkpoint = JSON.parse(JSON.stringify(await first.optimizer.saveCheckpoint({ variables: first.variables }))) as SessionCheckpoint;
    first.dispose();

    const resumed = run(name, factory, `${prefix}b`);
    await resumed.optimizer.loadCheckpoint(checkpoint, { variables: resumed.variables });
    expect(resumed.optimizer.session.stepCount).toBe(4);
    for (let i = 0; i < 4; i++) {
      resumed.step();
    }
    expect(firstDifference(snapshot(resumed.variables), expected)).toBeUndefined();
    resumed.dispose();
  });

  it('rejects a checkpoint from other plugins', async () => {
    const prefix = uniquePrefix('mismatch');
    const source = run('sgd', optimizers['sgd']!, prefix);
    source.step();
    const checkpoint = await source.optimizer.saveCheckpoint();
    const other = new HookedOptimizer(tf.train.sgd(0.1));
    await expect(other.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: ErrorCode.ERR_CHECKPOINT_INVALID });
    await expect(other.loadCheckpoint({ format: 'something else' } as unknown as SessionCheckpoint)).rejects.toMatchObject({
      code: ErrorCode.ERR_CHECKPOINT_INVALID,
    });
    source.dispose();
    other.dispose();
  });

  it('rejects a checkpoint of another optimizer class', async () => {
    const prefix = uniquePrefix('class');
    const source = run('adam', optimizers['adam']!, prefix);
    source.step();
    const checkpoint = await source.optimizer.saveCheckpoint();
    source.dispose();
    const target = run('sgd', optimizers['sgd']!, uniquePrefix('class'));
    await expect(target.optimizer.loadCheckpoint(checkpoint)).rejects.toMatchObject({ code: ErrorCode.ERR_CHECKPOINT_INVALID, expected: 'SGD' });
    target.dispose();
  });

  it('leaves no tensor behind after save and load', async () => {
    const prefix = uniquePrefix('leak');
    const source = run('adam', optimizers['adam']!, prefix);
    source.step();
    source.step();
    const before = tf.memory().numTensors;
    const checkpoint = await source.optimizer.saveCheckpoint({ variables: source.variables });
    await source.optimizer.loadCheckpoint(checkpoint, { variables: source.variables });
    expect(tf.memory().numTensors).toBe(before);
    source.dispose();
  });
});

describe('checkpoint variables', () => {
  it('match by position on a rebuilt model', async () => {
    const build = () => {
      const model = tf.sequential();
      model.add(tf.layers.dense({ inputShape: [3], units: 2, name: 'rebuilt_dense', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }));
      return model;
    };
    const first = build();
    const optimizer = new HookedOptimizer(tf.train.adam(0.1));
    const x = tf.tensor2d([[1, 2, 3]]);
    optimizer.step({ loss: () => tf.sum(first.apply(x) as tf.Tensor) as tf.Scalar }, { variables: first.trainableWeights.map((weight) => weight.read() as tf.Variable) });
    const variables = first.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const checkpoint = await optimizer.saveCheckpoint({ variables });
    const expected = snapshot(variables);
    const second = build();
    const renamed = second.trainableWeights.map((weight) => weight.read() as tf.Variable);
    expect(renamed.map((variable) => variable.name)).not.toEqual(variables.map((variable) => variable.name));
    const resumed = new HookedOptimizer(tf.train.adam(0.1));
    await resumed.loadCheckpoint(checkpoint, { variables: renamed });
    expect(firstDifference(snapshot(renamed), expected)).toBeUndefined();
    optimizer.dispose();
    resumed.dispose();
    first.dispose();
    second.dispose();
    x.dispose();
  });
});
