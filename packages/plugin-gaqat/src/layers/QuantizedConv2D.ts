import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';

import { invalidLayerConfig } from './quantizerConfig.js';
import { QuantizedLayer } from './QuantizedLayer.js';
import type { QuantizedLayerArgs } from './QuantizedLayer.js';

/** Configuration of `QuantizedConv2D`: a Conv2D layer's fields plus the quantizers. */
export interface QuantizedConv2DArgs extends QuantizedLayerArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: 'valid' | 'same';
  /** Only 'channelsLast' (NHWC) is supported. */
  dataFormat?: 'channelsLast';
  dilationRate?: number | [number, number];
}

function pair(layer: string, path: string, value: number | readonly number[] | undefined, fallback: number): [number, number] {
  const result: number[] = value === undefined ? [fallback, fallback] : typeof value === 'number' ? [value, value] : [...value];
  if (result.length !== 2 || result.some((size) => !Number.isInteger(size) || size < 1)) {
    return invalidLayerConfig(layer, path, value, 'a positive integer or two of them', `Set ${path.slice(1)} to a positive integer.`);
  }
  return result as [number, number];
}

/** Output length of one spatial axis, as tfjs's Conv2D computes it. */
function convOutputLength(length: number | null, kernel: number, padding: 'valid' | 'same', stride: number, dilation: number): number | null {
  if (length === null) {
    return null;
  }
  const dilatedKernel = kernel + (kernel - 1) * (dilation - 1);
  const full = padding === 'same' ? length : length - dilatedKernel + 1;
  return Math.floor((full + stride - 1) / stride);
}

/**
 * A Conv2D layer (NHWC) with LSQ fake quantization of its kernel and,
 * optionally, its input. Registered with tfjs serialization as
 * `GradhooksQuantizedConv2D`, so models that use it save and load with
 * tfjs's own format.
 */
export class QuantizedConv2D extends QuantizedLayer {
  static readonly className = 'GradhooksQuantizedConv2D';
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'valid' | 'same';
  readonly dilationRate: [number, number];

  constructor(args: QuantizedConv2DArgs) {
    super(args);
    if (!Number.isInteger(args.filters) || args.filters < 1) {
      invalidLayerConfig(this.name, '/filters', args.filters, 'a positive integer', 'Set filters to the number of output channels.');
    }
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsLast') {
      invalidLayerConfig(this.name, '/dataFormat', args.dataFormat, "'channelsLast'", 'Use channelsLast (NHWC) inputs.');
    }
    const padding = args.padding ?? 'valid';
    if (padding !== 'valid' && padding !== 'same') {
      invalidLayerConfig(this.name, '/padding', padding, "'valid' or 'same'", "Use padding 'valid' or 'same'.");
    }
    this.filters = args.filters;
    this.kernelSize = pair(this.name, '/kernelSize', args.kernelSize, 1);
    this.strides = pair(this.name, '/strides', args.strides, 1);
    this.padding = padding;
    this.dilationRate = pair(this.name, '/dilationRate', args.dilationRate, 1);
  }

  protected kernelShape(inputShape: Shape): number[] {
    const channels = inputShape[3];
    if (inputShape.length !== 4 || typeof channels !== 'number') {
      return invalidLayerConfig(this.name, '/inputShape', inputShape, 'a 4-D NHWC input with a known channel count', 'Feed [batch, height, width, channels] inputs.');
    }
    return [this.kernelSize[0], this.kernelSize[1], channels, this.filters];
  }

  protected linear(input: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    return tf.conv2d(input as tf.Tensor4D, kernel as tf.Tensor4D, this.strides, this.padding, 'NHWC', this.dilationRate);
  }

  protected ownConfig(): tf.serialization.ConfigDict {
    return {
      filters: this.filters,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: this.padding,
      dataFormat: 'channelsLast',
      dilationRate: [...this.dilationRate],
    };
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [
      shape[0] ?? null,
      convOutputLength(shape[1] ?? null, this.kernelSize[0], this.padding, this.strides[0], this.dilationRate[0]),
      convOutputLength(shape[2] ?? null, this.kernelSize[1], this.padding, this.strides[1], this.dilationRate[1]),
      this.filters,
    ];
  }
}

tf.serialization.registerClass(QuantizedConv2D);
