import * as tf from '@tensorflow/tfjs-core';
import type { Shape } from '@tensorflow/tfjs-layers';

import { invalidLayerConfig } from './quantizerConfig.js';
import { QuantizedLayer } from './QuantizedLayer.js';
import type { QuantizedLayerArgs } from './QuantizedLayer.js';

/** Configuration of `QuantizedDense`: a Dense layer's fields plus the quantizers. */
export interface QuantizedDenseArgs extends QuantizedLayerArgs {
  /** Output units. */
  units: number;
}

/**
 * A Dense layer with LSQ fake quantization of its kernel and, optionally, its
 * input. Registered with tfjs serialization as `GradhooksQuantizedDense`, so
 * models that use it save and load with tfjs's own format.
 *
 * @example
 * ```ts
 * const layer = new QuantizedDense({ units: 10, activation: 'softmax', weightQuantizer: { bits: 4 }, inputQuantizer: { bits: 4, signed: false } });
 * ```
 */
export class QuantizedDense extends QuantizedLayer {
  static readonly className = 'GradhooksQuantizedDense';
  readonly units: number;

  constructor(args: QuantizedDenseArgs) {
    super(args);
    if (!Number.isInteger(args.units) || args.units < 1) {
      invalidLayerConfig(this.name, '/units', args.units, 'a positive integer', 'Set units to the number of outputs.');
    }
    this.units = args.units;
  }

  protected kernelShape(inputShape: Shape): number[] {
    const features = inputShape[inputShape.length - 1];
    if (typeof features !== 'number') {
      return invalidLayerConfig(this.name, '/inputShape', inputShape, 'a known size of the last input axis', 'Give the model input a fixed feature size.');
    }
    return [features, this.units];
  }

  protected linear(input: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    if (input.rank === 2) {
      return tf.matMul(input as tf.Tensor2D, kernel as tf.Tensor2D);
    }
    const features = input.shape[input.rank - 1]!;
    const flat = tf.reshape(input, [-1, features]) as tf.Tensor2D;
    return tf.reshape(tf.matMul(flat, kernel as tf.Tensor2D), [...input.shape.slice(0, -1), this.units]);
  }

  protected ownConfig(): tf.serialization.ConfigDict {
    return { units: this.units };
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return [...shape.slice(0, -1), this.units];
  }
}

tf.serialization.registerClass(QuantizedDense);
