import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode } from '@gradhooks/core';
import { calibrateInputScales, integerRange, lsqGradientScale, lsqParts, lsqQuantize, QuantizedConv2D, QuantizedDense, QuantizedLayer, quantizeModel } from '@gradhooks/plugin-gaqat';
import { assertAllClose } from '@gradhooks/testing';

import { uniquePrefix } from './harness.js';

/** x̂ of LSQ for a known step size, for reference computations. */
function quantize(x: tf.Tensor, step: number | number[], bits: number, signed: boolean): tf.Tensor {
  return lsqQuantize(x, typeof step === 'number' ? tf.scalar(step) : tf.tensor1d(step), { range: integerRange(bits, signed), gradientScale: 1 });
}

function floatModel(name: string): tf.Sequential {
  const model = tf.sequential({ name });
  model.add(tf.layers.dense({ inputShape: [6], units: 5, activation: 'relu', name: `${name}_hidden`, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.dropout({ rate: 0, name: `${name}_drop` }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax', name: `${name}_out`, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: 'ones' }));
  return model;
}

async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tf.loadLayersModel(tf.io.fromMemory(saved!));
}

describe('QuantizedDense', () => {
  it('computes act(Q(x)·Q(W) + b)', () => {
    const name = uniquePrefix('qd');
    const layer = new QuantizedDense({ name, units: 2, activation: 'relu', weightQuantizer: { bits: 3 }, inputQuantizer: { bits: 4, signed: false } });
    const x = tf.tensor2d([
      [0.1, 0.9, 0.4],
      [0.7, 0.2, 0.0],
    ]);
    const output = layer.apply(x) as tf.Tensor;
    const scales = layer.readScales();
    const [kernel, bias] = layer.getWeights();
    const expected = tf.relu(tf.add(tf.matMul(quantize(x, scales.input!, 4, false), quantize(kernel!, scales.kernel[0]!, 3, true)), bias!));
    assertAllClose(output, expected.arraySync(), { label: 'forward' });
    expect(layer.weights.map((weight) => weight.name)).toEqual([`${name}/kernel`, `${name}/bias`, `${name}/kernel_quant_scale`, `${name}/input_quant_scale`]);
    // LSQ's initial steps: 2·mean|W|/sqrt(Qp) for the kernel, 2/sqrt(Qp) for the input until calibration.
    assertAllClose(scales.kernel[0]!, (2 * tf.mean(tf.abs(kernel!)).dataSync()[0]!) / Math.sqrt(3), { label: 'kernel step' });
    assertAllClose(scales.input!, 2 / Math.sqrt(15), { label: 'input step' });
    layer.dispose();
  });

  it('bias gradient matches finite differences', () => {
    // The bias enters after the quantizers, so the loss is smooth in it and the tape gradient is exact.
    const layer = new QuantizedDense({ name: uniquePrefix('qdb'), units: 2, weightQuantizer: { bits: 4, perChannel: true }, inputQuantizer: { bits: 4 } });
    const x = tf.tensor2d([
      [0.3, -0.9],
      [0.5, 0.2],
    ]);
    const target = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    layer.apply(x);
    const bias = layer.trainableWeights[1]!.read() as tf.Variable;
    const loss = () => tf.sum(tf.square(tf.sub(layer.apply(x) as tf.Tensor, target))) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, [bias]);
    const base = Array.from(bias.dataSync());
    const step = 1e-2;
    const differences = base.map((_, i) => {
      const shifted = (delta: number) => {
        bias.assign(tf.tensor1d(base.map((value, j) => (j === i ? value + delta : value))));
        return loss().dataSync()[0]!;
      };
      const difference = (shifted(step) - shifted(-step)) / (2 * step);
      bias.assign(tf.tensor1d(base));
      return difference;
    });
    assertAllClose(grads[bias.name]!, differences, { rtol: 1e-3, atol: 1e-4, label: 'bias gradient' });
    layer.dispose();
  });

  it('gives gradients to every trainable weight', () => {
    const layer = new QuantizedDense({ name: uniquePrefix('qdg'), units: 3, weightQuantizer: { bits: 2 }, inputQuantizer: { bits: 3 } });
    const x = tf.randomNormal([4, 5], 0, 1, 'float32', 3);
    layer.apply(x);
    const variables = layer.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar, variables);
    for (const variable of variables) {
      expect(grads[variable.name], variable.name).toBeDefined();
      expect(Array.from(grads[variable.name]!.dataSync()).every(Number.isFinite)).toBe(true);
    }
    expect(grads[variables[2]!.name]!.shape).toEqual([]);
    layer.dispose();
  });

  it('rejects invalid configurations', () => {
    expect(() => new QuantizedDense({ units: 2, weightQuantizer: { bits: 9 } })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/weightQuantizer/bits' }),
    );
    expect(() => new QuantizedDense({ units: 2, weightQuantizer: { bits: 4 }, inputQuantizer: { bits: 1 } })).toThrowError(
      expect.objectContaining({ path: '/inputQuantizer/bits' }),
    );
    expect(() => new QuantizedDense({ units: 0, weightQuantizer: { bits: 4 } })).toThrowError(expect.objectContaining({ path: '/units' }));
    expect(() => new QuantizedDense({ units: 2, weightQuantizer: { bits: 4 }, kernelRegularizer: { className: 'L1L2', config: {} } } as never)).toThrowError(
      expect.objectContaining({ path: '/kernelRegularizer' }),
    );
    expect(() => new QuantizedConv2D({ filters: 2, kernelSize: 3, dataFormat: 'channelsFirst' as never, weightQuantizer: { bits: 4 } })).toThrowError(
      expect.objectContaining({ path: '/dataFormat' }),
    );
  });
});

describe('QuantizedConv2D', () => {
  it('convolves with the quantized kernel', () => {
    const layer = new QuantizedConv2D({ name: uniquePrefix('qc'), filters: 2, kernelSize: 2, strides: 1, padding: 'same', weightQuantizer: { bits: 4, perChannel: true }, inputQuantizer: { bits: 4 } });
    const x = tf.randomNormal([1, 4, 4, 3], 0, 1, 'float32', 5);
    const output = layer.apply(x) as tf.Tensor;
    const scales = layer.readScales();
    const [kernel, bias] = layer.getWeights();
    const expected = tf.add(tf.conv2d(quantize(x, scales.input!, 4, true) as tf.Tensor4D, quantize(kernel!, scales.kernel, 4, true) as tf.Tensor4D, 1, 'same'), bias!);
    expect(output.shape).toEqual([1, 4, 4, 2]);
    expect(layer.computeOutputShape([null, 4, 4, 3])).toEqual([null, 4, 4, 2]);
    assertAllClose(output, expected.arraySync(), { label: 'forward' });
    expect(scales.kernel).toHaveLength(2);
    layer.dispose();
  });

  it('trains on the cpu backend', async () => {
    // tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so Conv2D training needs another backend.
    const previous = tf.getBackend();
    await tf.setBackend('cpu');
    try {
      const layer = new QuantizedConv2D({ name: uniquePrefix('qcc'), filters: 2, kernelSize: 3, strides: 2, weightQuantizer: { bits: 3 }, inputQuantizer: { bits: 3, signed: false } });
      const x = tf.randomUniform([2, 7, 7, 1], 0, 1, 'float32', 6);
      layer.apply(x);
      const variables = layer.trainableWeights.map((weight) => weight.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar, variables);
      expect(Object.keys(grads)).toHaveLength(4);
      for (const gradient of Object.values(grads)) {
        expect(Array.from(gradient.dataSync()).every(Number.isFinite)).toBe(true);
      }
      expect(layer.computeOutputShape([null, 7, 7, 1])).toEqual([null, 3, 3, 2]);
      layer.dispose();
    } finally {
      await tf.setBackend(previous);
    }
  });
});

describe('quantizeModel', () => {
  it('replaces Dense layers and copies weights', async () => {
    const name = uniquePrefix('qm');
    const model = floatModel(name);
    const quantized = await quantizeModel(model, { bits: 4 });
    expect(quantized.layers.map((layer) => layer.getClassName())).toEqual(['GradhooksQuantizedDense', 'Dropout', 'GradhooksQuantizedDense']);
    expect(quantized.layers.map((layer) => layer.name)).toEqual(model.layers.map((layer) => layer.name));
    const scaleNames = quantized.trainableWeights.map((weight) => weight.name).filter((weightName) => weightName.includes('quant_scale'));
    expect(scaleNames).toHaveLength(4);
    expect(scaleNames.every((weightName) => /\/(kernel|input)_quant_scale(_\d+)?$/.test(weightName))).toBe(true);
    model.layers.forEach((layer, i) => {
      const copied = quantized.layers[i]!.getWeights();
      layer.getWeights().forEach((weight, j) => expect(Array.from(copied[j]!.dataSync())).toEqual(Array.from(weight.dataSync())));
    });
    const hidden = quantized.layers[0] as QuantizedLayer;
    const kernel = model.layers[0]!.getWeights()[0]!;
    assertAllClose(hidden.readScales().kernel[0]!, (2 * tf.mean(tf.abs(kernel)).dataSync()[0]!) / Math.sqrt(7), { label: 'kernel step' });
    // The hidden layer reads the model input (signed); the output layer reads ReLU outputs through Dropout (unsigned).
    expect(hidden.inputQuantizer).toEqual({ bits: 4, signed: true });
    expect((quantized.layers[2] as QuantizedLayer).inputQuantizer).toEqual({ bits: 4, signed: false });
    model.dispose();
    quantized.dispose();
  });

  it('applies per-layer settings and calibration', async () => {
    const name = uniquePrefix('qp');
    const model = floatModel(name);
    const calibration = tf.randomUniform([32, 6], 0, 2, 'float32', 7);
    const quantized = await quantizeModel(model, {
      bits: 3,
      perChannel: true,
      layers: { [`${name}_out`]: { weightBits: 8, inputBits: null } },
      calibration,
    });
    const hidden = quantized.layers[0] as QuantizedLayer;
    const out = quantized.layers[2] as QuantizedLayer;
    expect(hidden.weightQuantizer).toEqual({ bits: 3, signed: true, perChannel: true });
    expect(hidden.readScales().kernel).toHaveLength(5);
    // Calibration data are never negative, so 'auto' picks an unsigned input range.
    expect(hidden.inputQuantizer).toEqual({ bits: 3, signed: false });
    assertAllClose(hidden.readScales().input!, (2 * tf.mean(tf.abs(calibration)).dataSync()[0]!) / Math.sqrt(7), { label: 'calibrated input step' });
    expect(out.weightQuantizer.bits).toBe(8);
    expect(out.inputQuantizer).toBeNull();
    const kept = await quantizeModel(model, { bits: 4, layers: { [`${name}_out`]: false } });
    expect(kept.layers[2]!.getClassName()).toBe('Dense');
    model.dispose();
    quantized.dispose();
    kept.dispose();
  });

  it('calibrateInputScales sets input steps from data', async () => {
    const model = tf.sequential();
    const layer = new QuantizedDense({ name: uniquePrefix('qcal'), inputShape: [4], units: 2, weightQuantizer: { bits: 4 }, inputQuantizer: { bits: 4 } });
    model.add(layer);
    const batch = tf.randomNormal([16, 4], 0, 3, 'float32', 8);
    calibrateInputScales(model, batch);
    assertAllClose(layer.readScales().input!, (2 * tf.mean(tf.abs(batch)).dataSync()[0]!) / Math.sqrt(7), { label: 'input step' });
    model.dispose();
  });

  it('rejects unknown layers, bad bits and regularizers', async () => {
    const name = uniquePrefix('qe');
    const model = floatModel(name);
    await expect(quantizeModel(model, { bits: 4, layers: { [`${name}_outt`]: false } })).rejects.toMatchObject({ code: ErrorCode.ERR_OPTIONS_INVALID, fix: `Did you mean '${name}_out'?` });
    await expect(quantizeModel(model, { bits: 1 })).rejects.toMatchObject({ path: '/bits' });
    await expect(quantizeModel(model, { bits: 4, layers: { [`${name}_out`]: { weightBits: 12 } } })).rejects.toMatchObject({ path: `/layers/${name}_out/weightBits` });
    const regularized = tf.sequential();
    regularized.add(tf.layers.dense({ inputShape: [2], units: 2, name: `${name}_reg`, kernelRegularizer: tf.regularizers.l2() }));
    await expect(quantizeModel(regularized, { bits: 4 })).rejects.toMatchObject({ path: `/layers/${name}_reg` });
    model.dispose();
    regularized.dispose();
  });

  it('saves and loads with the tfjs model format', async () => {
    const name = uniquePrefix('qs');
    const model = tf.sequential({ name });
    model.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'relu', name: `${name}_conv`, kernelInitializer: tf.initializers.heNormal({ seed: 3 }) }));
    model.add(tf.layers.flatten({ name: `${name}_flat` }));
    model.add(tf.layers.dense({ units: 4, activation: 'softmax', name: `${name}_out`, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }));
    const x = tf.randomUniform([5, 6, 6, 1], 0, 1, 'float32', 9);
    const quantized = await quantizeModel(model, { bits: 3, perChannel: true, calibration: x });
    const loaded = await roundTrip(quantized);
    expect(loaded.layers.map((layer) => layer.getClassName())).toEqual(quantized.layers.map((layer) => layer.getClassName()));
    expect(loaded.layers.map((layer) => layer.getConfig())).toEqual(quantized.layers.map((layer) => layer.getConfig()));
    quantized.getWeights().forEach((weight, i) => expect(Array.from(loaded.getWeights()[i]!.dataSync())).toEqual(Array.from(weight.dataSync())));
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((quantized.predict(x) as tf.Tensor).dataSync()));
    model.dispose();
    quantized.dispose();
    loaded.dispose();
  });

  it('leaks no tensor', async () => {
    const name = uniquePrefix('ql');
    const model = floatModel(name);
    const calibration = tf.randomUniform([16, 6], 0, 1, 'float32', 13);
    const before = tf.memory().numTensors;
    const quantized = await quantizeModel(model, { bits: 4, perChannel: true, calibration });
    tf.tidy(() => {
      quantized.predict(calibration);
    });
    quantized.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    calibration.dispose();
  });

  it('leaves the float model unchanged', async () => {
    const name = uniquePrefix('qu');
    const model = floatModel(name);
    const before = model.getWeights().map((weight) => Array.from(weight.dataSync()));
    const quantized = await quantizeModel(model, { bits: 4 });
    quantized.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
    await quantized.fit(tf.randomNormal([8, 6], 0, 1, 'float32', 10), tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3), { epochs: 2, verbose: 0 });
    expect(model.getWeights().map((weight) => Array.from(weight.dataSync()))).toEqual(before);
    expect(quantized.getWeights()[0]!.dataSync()).not.toEqual(model.getWeights()[0]!.dataSync());
    model.dispose();
    quantized.dispose();
  });
});

describe('LSQ gradient scale inside layers', () => {
  for (const perChannel of [false, true]) {
    it(`kernel step gradient uses N per scale, perChannel ${perChannel}`, () => {
      const x = tf.randomNormal([3, 4], 0, 1, 'float32', 11);
      const layer = new QuantizedDense({ name: uniquePrefix('qg'), units: 2, weightQuantizer: { bits: 4, perChannel }, kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }) });
      layer.apply(x);
      const scale = layer.trainableWeights[2]!.read() as tf.Variable;
      const { grads } = tf.variableGrads(() => tf.sum(layer.apply(x) as tf.Tensor) as tf.Scalar, [scale]);
      // For L = Σ x·Q(W) + b, dL/dQ(W) = xᵀ·1; the step gradient is Σ dL/dQ(W)·∂Q/∂s times 1/sqrt(N·Qp).
      const kernel = layer.getWeights()[0]!;
      const parts = lsqParts(kernel, scale, integerRange(4, true));
      const upstream = tf.matMul(x, tf.ones([3, 2]), true, false);
      const products = tf.mul(upstream, parts.stepGradient);
      const expected = perChannel ? tf.mul(tf.sum(products, 0), lsqGradientScale(4, 7)) : tf.mul(tf.sum(products), lsqGradientScale(8, 7));
      assertAllClose(grads[scale.name]!, expected.arraySync(), { label: 'kernel step gradient' });
      layer.dispose();
    });
  }
});
