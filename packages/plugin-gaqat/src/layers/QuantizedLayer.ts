import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers } from '@tensorflow/tfjs-layers';
import type { LayerVariable, Shape } from '@tensorflow/tfjs-layers';

import { initialStepSize, integerRange } from '../math/lsq.js';
import { lsqQuantize } from '../math/lsq.js';
import {
  invalidLayerConfig,
  quantizerSettings,
  resolveInitializer,
  resolveInputQuantizer,
  resolveWeightQuantizer,
  serializeInitializer,
} from './quantizerConfig.js';
import type {
  Initializer,
  InitializerSpec,
  InputQuantizerConfig,
  ResolvedInputQuantizer,
  ResolvedWeightQuantizer,
  WeightQuantizerConfig,
} from './quantizerConfig.js';

/** Weight names of a quantized layer; variables are named `<layer>/<weight>`. */
export const KERNEL_SCALE_NAME = 'kernel_quant_scale';
export const INPUT_SCALE_NAME = 'input_quant_scale';

/** Configuration shared by the quantized layers: tfjs layer fields, the float layer's fields, and the quantizers. */
export interface QuantizedLayerArgs {
  name?: string;
  trainable?: boolean;
  inputShape?: Shape;
  batchInputShape?: Shape;
  batchSize?: number;
  dtype?: tf.DataType;
  /** Activation identifier, as tfjs layers take it ('relu', 'softmax', ...); default 'linear'. */
  activation?: string;
  /** Add a bias (default true). The bias is not quantized. */
  useBias?: boolean;
  kernelInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  weightQuantizer: WeightQuantizerConfig;
  /** Quantizer of the input activations; null or absent keeps inputs in full precision. */
  inputQuantizer?: InputQuantizerConfig | null;
}

/** Float-layer fields the quantized layers do not implement; a non-null value is rejected. */
const UNSUPPORTED_FIELDS = ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint'] as const;

/**
 * Base of `QuantizedDense` and `QuantizedConv2D`: a float layer whose kernel
 * and (optionally) input pass through LSQ fake quantizers with trainable
 * step sizes, the weights `kernel_quant_scale` and `input_quant_scale`.
 * Subclasses give the kernel shape and the linear operation.
 */
export abstract class QuantizedLayer extends layers.Layer {
  readonly weightQuantizer: ResolvedWeightQuantizer;
  readonly inputQuantizer: ResolvedInputQuantizer | null;
  readonly activation: string;
  readonly useBias: boolean;
  protected readonly kernelInitializer: Initializer;
  protected readonly biasInitializer: Initializer;
  private readonly activationLayer: layers.Layer | null;
  protected kernel: LayerVariable | null = null;
  protected bias: LayerVariable | null = null;
  protected kernelScale: LayerVariable | null = null;
  protected inputScale: LayerVariable | null = null;

  constructor(args: QuantizedLayerArgs) {
    super({
      ...(args.name === undefined ? {} : { name: args.name }),
      ...(args.trainable === undefined ? {} : { trainable: args.trainable }),
      ...(args.inputShape === undefined ? {} : { inputShape: args.inputShape }),
      ...(args.batchInputShape === undefined ? {} : { batchInputShape: args.batchInputShape }),
      ...(args.batchSize === undefined ? {} : { batchSize: args.batchSize }),
      ...(args.dtype === undefined ? {} : { dtype: args.dtype }),
    });
    const unsupported = args as unknown as Record<string, unknown>;
    for (const field of UNSUPPORTED_FIELDS) {
      if (unsupported[field] !== undefined && unsupported[field] !== null) {
        invalidLayerConfig(this.name, `/${field}`, unsupported[field], 'null: quantized layers have no regularizers or constraints', `Remove ${field} from the layer before quantizing it.`);
      }
    }
    this.weightQuantizer = resolveWeightQuantizer(this.name, args.weightQuantizer);
    this.inputQuantizer = resolveInputQuantizer(this.name, args.inputQuantizer);
    this.activation = args.activation ?? 'linear';
    this.activationLayer = this.activation === 'linear' ? null : layers.activation({ activation: this.activation as never });
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = resolveInitializer(this.name, '/kernelInitializer', args.kernelInitializer, 'glorotUniform');
    this.biasInitializer = resolveInitializer(this.name, '/biasInitializer', args.biasInitializer, 'zeros');
  }

  /** Shape of the kernel for an input of `inputShape`; the output channel is its last axis. */
  protected abstract kernelShape(inputShape: Shape): number[];

  /** Applies the layer's linear operation (matrix product or convolution) with the quantized kernel. */
  protected abstract linear(input: tf.Tensor, kernel: tf.Tensor): tf.Tensor;

  /** The layer's own configuration fields (units, filters, strides, ...). */
  protected abstract ownConfig(): tf.serialization.ConfigDict;

  override build(inputShape: Shape | Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    const kernelShape = this.kernelShape(shape);
    const channels = kernelShape[kernelShape.length - 1]!;
    this.kernel = this.addWeight('kernel', kernelShape, 'float32', this.kernelInitializer, undefined, true);
    if (this.useBias) {
      this.bias = this.addWeight('bias', [channels], 'float32', this.biasInitializer, undefined, true);
    }
    this.kernelScale = this.addWeight(KERNEL_SCALE_NAME, this.weightQuantizer.perChannel ? [channels] : [], 'float32', initializers.ones(), undefined, true);
    this.initializeKernelScale();
    if (this.inputQuantizer !== null) {
      // LSQ's rule 2·mean|x|/sqrt(Q_P) for mean |x| = 1, until calibrateInputScales or setInputScale sets it from data.
      const positive = integerRange(this.inputQuantizer.bits, this.inputQuantizer.signed).positive;
      this.inputScale = this.addWeight(INPUT_SCALE_NAME, [], 'float32', initializers.constant({ value: 2 / Math.sqrt(positive) }), undefined, true);
    }
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let input = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (this.inputQuantizer !== null) {
        // LSQ's N for activations: the features of one example.
        const perExample = input.rank > 1 ? input.size / input.shape[0]! : input.size;
        input = lsqQuantize(input, this.inputScale!.read(), quantizerSettings(this.inputQuantizer.bits, this.inputQuantizer.signed, perExample));
      }
      const kernel = this.kernel!.read();
      const channels = kernel.shape[kernel.rank - 1]!;
      const perScale = this.weightQuantizer.perChannel ? kernel.size / channels : kernel.size;
      const quantized = lsqQuantize(kernel, this.kernelScale!.read(), quantizerSettings(this.weightQuantizer.bits, this.weightQuantizer.signed, perScale));
      let output = this.linear(input, quantized);
      if (this.bias !== null) {
        output = tf.add(output, this.bias.read());
      }
      return this.activationLayer === null ? output : (this.activationLayer.apply(output) as tf.Tensor);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...this.ownConfig(),
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: serializeInitializer(this.kernelInitializer),
      biasInitializer: serializeInitializer(this.biasInitializer),
      weightQuantizer: { ...this.weightQuantizer },
      inputQuantizer: this.inputQuantizer === null ? null : { ...this.inputQuantizer },
      ...super.getConfig(),
    };
  }

  /**
   * Copies a float layer's kernel and bias into this layer and sets the
   * kernel step size by LSQ's rule 2·mean|w|/sqrt(Q_P) (per output channel
   * when the quantizer is per channel). The layer must be built.
   */
  setFloatWeights(kernel: tf.Tensor, bias?: tf.Tensor | null): void {
    this.checkBuilt();
    this.kernel!.write(kernel);
    if (this.bias !== null && bias !== undefined && bias !== null) {
      this.bias.write(bias);
    }
    this.initializeKernelScale();
  }

  /** Sets the input step size. The layer must be built and must quantize its inputs. */
  setInputScale(value: number): void {
    this.checkBuilt();
    if (this.inputScale === null) {
      invalidLayerConfig(this.name, '/inputQuantizer', null, 'an input quantizer', 'Give the layer an inputQuantizer before setting its input step size.');
    }
    if (!(Number.isFinite(value) && value > 0)) {
      invalidLayerConfig(this.name, '/inputScale', value, 'a positive finite step size', 'Pass a step size above 0.');
    }
    const tensor = tf.scalar(value);
    this.inputScale!.write(tensor);
    tensor.dispose();
  }

  /** Reads the kernel step sizes and the input step size from the device. */
  readScales(): { kernel: number[]; input: number | null } {
    this.checkBuilt();
    return {
      kernel: Array.from(this.kernelScale!.read().dataSync()),
      input: this.inputScale === null ? null : this.inputScale.read().dataSync()[0]!,
    };
  }

  private initializeKernelScale(): void {
    const positive = integerRange(this.weightQuantizer.bits, this.weightQuantizer.signed).positive;
    const initial = initialStepSize(this.kernel!.read(), positive, this.weightQuantizer.perChannel);
    this.kernelScale!.write(initial);
    initial.dispose();
  }

  private checkBuilt(): void {
    if (!this.built || this.kernel === null) {
      invalidLayerConfig(this.name, '/built', false, 'a built layer', 'Apply the layer to an input (or build its model) first.');
    }
  }
}
