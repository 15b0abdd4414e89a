import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { ErrorCode, FanOut, fanOut, fanOutWiring, HookedOptimizer } from '@gradhooks/core';
import type { RepresentationGradients } from '@gradhooks/core';
import { assertAllClose, assertSteadyTensorCount } from '@gradhooks/testing';

import { tapPlugin, uniquePrefix } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

/** Builds a trunk z = tanh(x W) and three heads, each reading its own slice of the fan-out. */
function threeHeads() {
  const prefix = uniquePrefix('fan');
  const x = tf.randomNormal([5, 4], 0, 1, 'float32', 21);
  const trunk = tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 22), true, `${prefix}/trunk`);
  const heads = [23, 24, 25].map((seed, k) => tf.variable(tf.randomNormal([3, 2], 0, 1, 'float32', seed), true, `${prefix}/head${k}`));
  const targets = [26, 27, 28].map((seed) => tf.randomNormal([5, 2], 0, 1, 'float32', seed));
  const names = ['a', 'b', 'c'];
  const headLoss = (z: tf.Tensor, k: number) => tf.mean(tf.square(tf.sub(tf.matMul(z, heads[k]!), targets[k]!))) as tf.Scalar;
  cleanups.push(() => tf.dispose([x, trunk, ...heads, ...targets]));
  return { x, trunk, heads, names, headLoss, variables: [trunk, ...heads] };
}

describe('fanOut op', () => {
  it('hands every objective gradient to the hook in one pass', () => {
    const { x, trunk, names, headLoss, variables } = threeHeads();
    const received: Record<string, number[]> = {};
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      level: 'representation',
      plugins: [
        tapPlugin('reader', () => ({
          representationGradients: (gradients: RepresentationGradients, _step, layer) => {
            expect(layer).toBe('fan_out');
            for (const [name, tensor] of Object.entries(gradients)) {
              received[name] = Array.from(tensor.dataSync());
            }
            return gradients;
          },
        })),
      ],
    });
    const z0 = tf.tanh(tf.matMul(x, trunk));
    const expected = names.map((_, k) => tf.grad((z: tf.Tensor) => headLoss(z, k))(z0));
    // At the representation level the session sums the objectives into one backward pass, so
    // the first objective builds the fan-out and the others read their slices of it.
    let slices: tf.Tensor[] = [];
    const shared = {
      a: () => {
        slices = fanOut(tf.tanh(tf.matMul(x, trunk)), names);
        return headLoss(slices[0]!, 0);
      },
      b: () => headLoss(slices[1]!, 1),
      c: () => headLoss(slices[2]!, 2),
    };
    const result = optimizer.step(shared, { variables });
    expect(result.applied).toBe(true);
    names.forEach((name, k) => assertAllClose(received[name]!, Array.from(expected[k]!.dataSync()), { rtol: 1e-5, atol: 1e-6, label: name }));
    tf.dispose([z0, ...expected]);
    optimizer.dispose();
  });

  it('is an identity with a sum gradient outside a session', () => {
    const { x, trunk, names, headLoss } = threeHeads();
    const total = (w: tf.Tensor) => {
      const slices = fanOut(tf.tanh(tf.matMul(x, w)), names);
      return tf.addN(slices.map((slice, k) => headLoss(slice, k))) as tf.Scalar;
    };
    const plain = (w: tf.Tensor) => {
      const z = tf.tanh(tf.matMul(x, w));
      return tf.addN(names.map((_, k) => headLoss(z, k))) as tf.Scalar;
    };
    const viaFanOut = tf.grad(total)(trunk);
    const direct = tf.grad(plain)(trunk);
    assertAllClose(viaFanOut, direct.arraySync(), { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([viaFanOut, direct]);
  });

  it('rejects repeated objective names', () => {
    expect(() => fanOut(tf.zeros([2, 2]), ['a', 'a'])).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_FANOUT_INVALID }));
  });
});

describe('FanOut layer', () => {
  function model(prefix: string) {
    const input = tf.input({ shape: [4] });
    const trunk = tf.layers.dense({ units: 6, activation: 'tanh', name: `${prefix}_trunk`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
    const [left, right] = new FanOut({ objectives: ['left', 'right'], name: `${prefix}_fan` }).apply(trunk) as tf.SymbolicTensor[];
    const leftOut = tf.layers.dense({ units: 2, name: `${prefix}_left`, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(left!) as tf.SymbolicTensor;
    const rightOut = tf.layers.dense({ units: 1, name: `${prefix}_right`, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(right!) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: [leftOut, rightOut] });
  }

  it('trains inside fit with representation-level taps and flat memory', async () => {
    const prefix = uniquePrefix('layer');
    const net = model(prefix);
    const x = tf.randomNormal([16, 4], 0, 1, 'float32', 31);
    const yLeft = tf.randomNormal([16, 2], 0, 1, 'float32', 32);
    const yRight = tf.randomNormal([16, 1], 0, 1, 'float32', 33);
    cleanups.push(() => tf.dispose([x, yLeft, yRight]), () => net.dispose());
    let calls = 0;
    const warnings: string[] = [];
    const optimizer = new HookedOptimizer(tf.train.sgd(0.05), {
      level: 'representation',
      logger: { debug: () => {}, info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} },
      plugins: [
        tapPlugin('counter', () => ({
          representationGradients: (gradients: RepresentationGradients, _step, layer) => {
            expect(Object.keys(gradients)).toEqual(['left', 'right']);
            expect(layer).toBe(`${prefix}_fan`);
            calls += 1;
            return gradients;
          },
        })),
      ],
    });
    net.compile({ optimizer, loss: ['meanSquaredError', 'meanSquaredError'] });
    const counts: number[][] = [];
    const history = await net.fit(x, [yLeft, yRight], {
      epochs: 3,
      batchSize: 4,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => void counts.push([]),
        onBatchEnd: async () => void counts[counts.length - 1]!.push(tf.memory().numTensors),
      },
    });
    expect(calls).toBe(12);
    expect(warnings).toEqual([]);
    const losses = history.history['loss'] as number[];
    expect(losses[2]!).toBeLessThan(losses[0]!);
    counts.forEach((epoch) => assertSteadyTensorCount(epoch, 1));
    optimizer.dispose();
  });

  it('saves and loads with its objectives', async () => {
    const prefix = uniquePrefix('saved');
    const net = model(prefix);
    cleanups.push(() => net.dispose());
    let artifacts: tf.io.ModelArtifacts | undefined;
    await net.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    cleanups.push(() => loaded.dispose());
    const fan = loaded.layers.find((layer) => layer instanceof FanOut) as FanOut;
    expect(fan.objectives).toEqual(['left', 'right']);
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 41);
    const [a, b] = net.predict(x) as tf.Tensor[];
    const [c, d] = loaded.predict(x) as tf.Tensor[];
    expect(Array.from(c!.dataSync())).toEqual(Array.from(a!.dataSync()));
    expect(Array.from(d!.dataSync())).toEqual(Array.from(b!.dataSync()));
    tf.dispose([x, a!, b!, c!, d!]);
  });
});

describe('fanOut misuse', () => {
  it('warns once when a step runs the fan-out twice', () => {
    const { x, trunk, names, headLoss, variables } = threeHeads();
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} };
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { level: 'representation', logger });
    // Each objective builds its own forward pass: the mistake the warning is about.
    const separate = Object.fromEntries(names.map((name, k) => [name, () => headLoss(fanOut(tf.tanh(tf.matMul(x, trunk)), names)[k]!, k)]));
    optimizer.step(separate, { variables });
    optimizer.step(separate, { variables });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("fan-out 'fan_out' received gradients twice in one step");
    optimizer.dispose();
  });
});

describe('FanOut labels', () => {
  function wired(labels: string[], leftFrom: number) {
    const prefix = uniquePrefix('labels');
    const input = tf.input({ shape: [3] });
    const trunk = tf.layers.dense({ units: 4, name: `${prefix}_trunk` }).apply(input) as tf.SymbolicTensor;
    const slices = new FanOut({ objectives: labels, name: `${prefix}_fan` }).apply(trunk) as tf.SymbolicTensor[];
    const left = tf.layers.dense({ units: 1, name: 'left' }).apply(slices[leftFrom]!) as tf.SymbolicTensor;
    const right = tf.layers.dense({ units: 1, name: 'right' }).apply(slices[1 - leftFrom]!) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [left, right] });
    cleanups.push(() => model.dispose());
    return model;
  }

  it('trace which output each slice feeds', () => {
    const model = wired(['left', 'right'], 0);
    expect(fanOutWiring(model).map((entry) => entry.feeds)).toEqual([[['left'], ['right']]]);
  });

  it('reject labels in the wrong order', () => {
    const model = wired(['left', 'right'], 1);
    expect(() => new HookedOptimizer(tf.train.sgd(0.1), { level: 'representation', model })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_FANOUT_INVALID }),
    );
  });

  it('warn about labels that name no output', () => {
    const model = wired(['a', 'b'], 0);
    const warnings: string[] = [];
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      level: 'representation',
      model,
      logger: { debug: () => {}, info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} },
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('labels [a, b] name no model output');
    optimizer.dispose();
  });
});
