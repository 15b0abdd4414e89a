import * as tf from '@tensorflow/tfjs-core';
import { model as functionalModel, models } from '@tensorflow/tfjs-layers';
import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs-layers';

import { closest, ErrorCode, GradhooksError } from '@gradhooks/core';

import { integerRange, MAX_BITS, MIN_BITS, MIN_INITIAL_STEP } from './math/lsq.js';
import { QuantizedConv2D } from './layers/QuantizedConv2D.js';
import { QuantizedDense } from './layers/QuantizedDense.js';
import { QuantizedLayer } from './layers/QuantizedLayer.js';

type Layer = LayersModel['layers'][number];

/** Quantizer settings of one layer, as `quantizeModel` takes them. */
export interface LayerQuantization {
  /** Bit width of the kernel (default: `bits`). */
  weightBits?: number;
  /** Bit width of the input activations; null keeps inputs in full precision (default: `bits`). */
  inputBits?: number | null;
  /** One kernel step size per output channel (default false: one per tensor). */
  perChannel?: boolean;
  /** Signed kernel range (default true). */
  weightSigned?: boolean;
  /**
   * Signed input range, or 'auto' (default): unsigned when the inputs cannot
   * be negative. With `calibration` data, 'auto' checks the calibration
   * batch. Without it, 'auto' follows the graph back through shape-only
   * layers to an activation that is never negative (relu, relu6, sigmoid,
   * softmax, softplus, hardSigmoid), and model inputs count as signed.
   */
  inputSigned?: boolean | 'auto';
}

/** Options of `quantizeModel`. */
export interface QuantizeModelOptions extends LayerQuantization {
  /** Bit width of kernels and inputs, 2 to 8. */
  bits: number;
  /** Settings per layer name, over the ones above; `false` keeps that layer in full precision. */
  layers?: Readonly<Record<string, LayerQuantization | false>>;
  /**
   * A batch of model inputs. When given, each quantized layer's input step
   * size starts at LSQ's 2·mean|x|/sqrt(Q_P) over the inputs that layer
   * receives in the float model on this batch. Otherwise it starts at 2/sqrt(Q_P).
   */
  calibration?: tf.Tensor | tf.Tensor[];
}

/** Float layer classes that `quantizeModel` replaces, with their quantized class names. */
const QUANTIZED_CLASS: Readonly<Record<string, string>> = {
  Dense: QuantizedDense.className,
  Conv2D: QuantizedConv2D.className,
};

const NONNEGATIVE_ACTIVATIONS = new Set(['relu', 'relu6', 'sigmoid', 'softmax', 'softplus', 'hardSigmoid']);
/** Layers whose outputs are never negative when their inputs are not. */
const SIGN_PRESERVING_LAYERS = new Set([
  'Flatten',
  'Reshape',
  'Dropout',
  'SpatialDropout1D',
  'MaxPooling1D',
  'MaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'Permute',
  'ZeroPadding2D',
  'Cropping2D',
  'UpSampling2D',
  'Concatenate',
  'Add',
  'Average',
  'Maximum',
]);

function invalidOption(path: string, received: unknown, expected: string, fix: string): never {
  throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Invalid quantizeModel option ${path}: expected ${expected}.`, { path, received, expected, fix });
}

function checkBits(path: string, bits: unknown): number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
    invalidOption(path, bits, `an integer from ${MIN_BITS} to ${MAX_BITS}`, `Set ${path.slice(1)} to a bit width from ${MIN_BITS} to ${MAX_BITS}.`);
  }
  return bits as number;
}

/** Settings of one layer after the per-layer entry and the defaults are applied. */
interface ResolvedLayerQuantization {
  weightBits: number;
  inputBits: number | null;
  perChannel: boolean;
  weightSigned: boolean;
  inputSigned: boolean | 'auto';
}

function resolveLayer(options: QuantizeModelOptions, name: string): ResolvedLayerQuantization | false {
  const own = options.layers?.[name];
  if (own === false) {
    return false;
  }
  const path = own === undefined ? '' : `/layers/${name}`;
  const merged = { ...options, ...own };
  const inputBits = merged.inputBits === undefined ? merged.bits : merged.inputBits;
  return {
    weightBits: checkBits(`${path}/weightBits`, merged.weightBits ?? merged.bits),
    inputBits: inputBits === null ? null : checkBits(`${path}/inputBits`, inputBits),
    perChannel: merged.perChannel ?? false,
    weightSigned: merged.weightSigned ?? true,
    inputSigned: merged.inputSigned ?? 'auto',
  };
}

/** Reports whether a layer's output can never be negative, following shape-only layers back. */
function producesNonNegative(layer: Layer, seen = new Set<Layer>()): boolean {
  if (seen.has(layer)) {
    return false;
  }
  seen.add(layer);
  const className = layer.getClassName();
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  if (typeof activation === 'string') {
    return NONNEGATIVE_ACTIVATIONS.has(activation);
  }
  if (className === 'ReLU' || className === 'Softmax') {
    return true;
  }
  if (SIGN_PRESERVING_LAYERS.has(className)) {
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    return inbound.length > 0 && inbound.every((previous) => producesNonNegative(previous, seen));
  }
  return false;
}

/** Runs the float model on `calibration` and returns mean |x| and min x of each named layer's input. */
function inputStatistics(model: LayersModel, targets: readonly Layer[], calibration: tf.Tensor | tf.Tensor[]): Map<string, { meanAbs: number; min: number }> {
  // The probe shares the model's layers and creates no weights, so it is not disposed (that would free the shared weights).
  const probe = functionalModel({ inputs: model.inputs, outputs: targets.map((layer) => layer.input as SymbolicTensor) });
  const statistics = new Map<string, { meanAbs: number; min: number }>();
  tf.tidy(() => {
    const outputs = probe.predict(calibration);
    const list = Array.isArray(outputs) ? outputs : [outputs];
    const numbers = tf.stack(list.flatMap((tensor) => [tf.mean(tf.abs(tensor)), tf.min(tensor)])).dataSync();
    targets.forEach((layer, i) => statistics.set(layer.name, { meanAbs: numbers[2 * i]!, min: numbers[2 * i + 1]! }));
  });
  return statistics;
}

/**
 * Builds the quantized twin of a model. Every Dense and Conv2D layer becomes
 * a `QuantizedDense` or `QuantizedConv2D` of the same name and configuration
 * with LSQ fake quantizers on its kernel and input, and other layers are
 * copied. Weights are copied, kernel step sizes start at LSQ's 2·mean|w|/sqrt(Q_P),
 * and input step sizes come from `calibration` when given. The new model is
 * uncompiled and owns new variables; the original is left unchanged. Its
 * step-size variables are named `<layer>/kernel_quant_scale` and
 * `<layer>/input_quant_scale` (tfjs appends `_1`, ... to names already taken).
 *
 * @example
 * ```ts
 * const quantized = await quantizeModel(model, { bits: 4, layers: { logits: { weightBits: 8, inputBits: 8 } }, calibration: xs.slice(0, 256) });
 * ```
 */
export async function quantizeModel(model: LayersModel, options: QuantizeModelOptions): Promise<LayersModel> {
  checkBits('/bits', options.bits);
  const names = model.layers.map((layer) => layer.name);
  for (const name of Object.keys(options.layers ?? {})) {
    if (!names.includes(name)) {
      const suggestion = closest(name, names);
      invalidOption(`/layers/${name}`, name, `the name of a layer of the model (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', ...' : ''})`, suggestion === undefined ? 'Use a layer name from model.layers.' : `Did you mean '${suggestion}'?`);
    }
  }

  const settings = new Map<string, ResolvedLayerQuantization>();
  for (const layer of model.layers) {
    const resolved = resolveLayer(options, layer.name);
    if (resolved !== false && layer.getClassName() in QUANTIZED_CLASS) {
      settings.set(layer.name, resolved);
    }
  }
  const targets = model.layers.filter((layer) => settings.has(layer.name));
  const statistics = options.calibration === undefined ? undefined : inputStatistics(model, targets, options.calibration);

  const topology = JSON.parse(JSON.stringify(model.toJSON(null, false))) as { config: { layers: Array<{ class_name: string; config: Record<string, unknown> }> } };
  for (const entry of topology.config.layers) {
    const name = entry.config['name'] as string;
    const layer = settings.get(name);
    if (layer === undefined) {
      continue;
    }
    for (const field of ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint']) {
      if (entry.config[field] !== null && entry.config[field] !== undefined) {
        invalidOption(`/layers/${name}`, entry.config[field], `layer '${name}' without ${field}`, `Remove ${field} from layer '${name}', or keep it in full precision with layers: { ${name}: false }.`);
      }
      delete entry.config[field];
    }
    let inputSigned = layer.inputSigned;
    if (inputSigned === 'auto') {
      const stats = statistics?.get(name);
      const source = model.getLayer(name).inboundNodes[0]?.inboundLayers[0];
      inputSigned = stats === undefined ? source === undefined || !producesNonNegative(source) : stats.min < 0;
    }
    entry.class_name = QUANTIZED_CLASS[entry.class_name]!;
    // Python-style keys: modelFromJSON converts them to camelCase.
    entry.config['weight_quantizer'] = { bits: layer.weightBits, signed: layer.weightSigned, per_channel: layer.perChannel };
    entry.config['input_quantizer'] = layer.inputBits === null ? null : { bits: layer.inputBits, signed: inputSigned };
  }

  const twin = await models.modelFromJSON({ modelTopology: topology as never });
  for (const layer of model.layers) {
    const copy = twin.getLayer(layer.name);
    const weights = layer.getWeights();
    if (copy instanceof QuantizedLayer && settings.has(layer.name)) {
      copy.setFloatWeights(weights[0]!, weights[1] ?? null);
      const stats = statistics?.get(layer.name);
      if (stats !== undefined && copy.inputQuantizer !== null) {
        const positive = integerRange(copy.inputQuantizer.bits, copy.inputQuantizer.signed).positive;
        copy.setInputScale(Math.max((2 * stats.meanAbs) / Math.sqrt(positive), MIN_INITIAL_STEP));
      }
    } else if (weights.length > 0) {
      copy.setWeights(weights);
    }
  }
  return twin;
}

/**
 * Sets the input step size of every quantized layer of `model` from a batch
 * of inputs, by LSQ's rule 2·mean|x|/sqrt(Q_P) on the inputs each layer receives
 * in this model, with its current weights and step sizes. For layers built
 * by hand; `quantizeModel` does this itself when given `calibration`.
 */
export function calibrateInputScales(model: LayersModel, batch: tf.Tensor | tf.Tensor[]): void {
  const targets = model.layers.filter((layer): layer is QuantizedLayer => layer instanceof QuantizedLayer && layer.inputQuantizer !== null);
  if (targets.length === 0) {
    return;
  }
  const statistics = inputStatistics(model, targets, batch);
  for (const layer of targets) {
    const positive = integerRange(layer.inputQuantizer!.bits, layer.inputQuantizer!.signed).positive;
    layer.setInputScale(Math.max((2 * statistics.get(layer.name)!.meanAbs) / Math.sqrt(positive), MIN_INITIAL_STEP));
  }
}
