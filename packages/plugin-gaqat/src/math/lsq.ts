import * as tf from '@tensorflow/tfjs-core';

/** Integer range [-negative, positive] of a b-bit quantizer: LSQ's Q_N and Q_P. */
export interface IntegerRange {
  /** Q_N: the most negative integer level is -negative (0 for unsigned quantizers). */
  readonly negative: number;
  /** Q_P: the most positive integer level. */
  readonly positive: number;
}

/** Smallest and largest bit widths the quantizer layers accept. */
export const MIN_BITS = 2;
export const MAX_BITS = 8;

/**
 * Returns LSQ's integer range for `bits` bits: signed [-2^(b-1), 2^(b-1)-1],
 * unsigned [0, 2^b-1] (Esser et al., "Learned Step Size Quantization", ICLR 2020).
 */
export function integerRange(bits: number, signed: boolean): IntegerRange {
  if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
    throw new RangeError(`bits must be an integer from ${MIN_BITS} to ${MAX_BITS}, received ${bits}.`);
  }
  return signed ? { negative: 2 ** (bits - 1), positive: 2 ** (bits - 1) - 1 } : { negative: 0, positive: 2 ** bits - 1 };
}

/**
 * Returns LSQ's gradient scale g = 1/sqrt(N·Q_P), where N is the number of
 * elements that share one step size.
 */
export function lsqGradientScale(elementsPerScale: number, positive: number): number {
  if (!(elementsPerScale > 0) || !(positive > 0)) {
    throw new RangeError(`the gradient scale needs positive N and Q_P, received N = ${elementsPerScale}, Q_P = ${positive}.`);
  }
  return 1 / Math.sqrt(elementsPerScale * positive);
}

/**
 * Step sizes below this are raised to it at initialisation, so an all-zero
 * tensor or channel gets a usable step instead of a division by zero.
 */
export const MIN_INITIAL_STEP = 1e-8;

/**
 * Computes LSQ's initial step size 2·mean|x|/sqrt(Q_P): one scalar, or with
 * `perChannel` one value per entry of the last axis (the output channel of a
 * Dense or Conv2D kernel). Values are at least `MIN_INITIAL_STEP`.
 */
export function initialStepSize(x: tf.Tensor, positive: number, perChannel = false): tf.Tensor {
  return tf.tidy(() => {
    const magnitude = tf.abs(x);
    const axes = perChannel ? Array.from({ length: x.rank - 1 }, (_, axis) => axis) : undefined;
    const mean = perChannel && x.rank > 1 ? tf.mean(magnitude, axes) : perChannel ? magnitude : tf.mean(magnitude);
    return tf.maximum(tf.mul(mean, 2 / Math.sqrt(positive)), MIN_INITIAL_STEP);
  });
}

/** The forward values of LSQ on one tensor, kept separate for tests and diagnostics. */
export interface LsqParts {
  /** v = x / s. */
  v: tf.Tensor;
  /** x̂ = round(clip(v, -Q_N, Q_P))·s, rounding half to even. */
  quantized: tf.Tensor;
  /** ∂x̂/∂s with the straight-through estimator: round(v) - v inside the range, -Q_N below it, Q_P above it. */
  stepGradient: tf.Tensor;
  /** 1 where -Q_N ≤ v ≤ Q_P (the boundary counts as inside), else 0: ∂x̂/∂x under the straight-through estimator. */
  inside: tf.Tensor;
}

/**
 * Computes LSQ's forward values and local derivatives. The clip boundary
 * counts as inside, as torch's clamp backward and the PyTorch LSQ ports
 * treat it, while the LSQ paper's case split puts it in the clipped branch.
 * `tf.round` rounds half to even, like torch and numpy.
 */
export function lsqParts(x: tf.Tensor, scale: tf.Tensor, range: IntegerRange): LsqParts {
  return tf.tidy(() => {
    const v = tf.div(x, scale);
    const clipped = tf.clipByValue(v, -range.negative, range.positive);
    const rounded = tf.round(clipped);
    const quantized = tf.mul(rounded, scale);
    const below = tf.less(v, -range.negative);
    const above = tf.greater(v, range.positive);
    const insideMask = tf.logicalNot(tf.logicalOr(below, above));
    const outsideValue = tf.where(below, tf.fill(v.shape, -range.negative), tf.fill(v.shape, range.positive));
    const stepGradient = tf.where(insideMask, tf.sub(rounded, v), outsideValue);
    return { v, quantized, stepGradient, inside: tf.cast(insideMask, 'float32') };
  });
}

/**
 * Sums `gradient` down to `shape` by the broadcasting rules: axes that `shape`
 * lacks on the left, and axes where `shape` has size 1, are summed.
 */
export function sumToShape(gradient: tf.Tensor, shape: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    const lead = gradient.rank - shape.length;
    const axes: number[] = [];
    for (let axis = 0; axis < gradient.rank; axis++) {
      if (axis < lead || (shape[axis - lead] === 1 && gradient.shape[axis] !== 1)) {
        axes.push(axis);
      }
    }
    const summed = axes.length === 0 ? gradient : tf.sum(gradient, axes, true);
    return tf.reshape(summed, [...shape]);
  });
}

/** Settings of one LSQ quantizer application. */
export interface LsqSettings {
  range: IntegerRange;
  /** Factor on the step-size gradient; LSQ uses `lsqGradientScale(N, Q_P)`. */
  gradientScale: number;
}

/**
 * Fake-quantizes `x` with a learned step size (LSQ, Esser et al., ICLR 2020):
 * x̂ = round(clip(x/s, -Q_N, Q_P))·s. The gradient with respect to x passes
 * straight through inside the range and is 0 outside it. The gradient with
 * respect to s is Σ dy·∂x̂/∂s times `gradientScale`, summed to the shape of s.
 * `scale` is a scalar, or broadcasts against `x` (one step per output channel
 * has the shape of x's last axis). It must be positive; it is not clamped.
 *
 * @example
 * ```ts
 * const range = integerRange(4, true);
 * const xq = lsqQuantize(kernel, step, { range, gradientScale: lsqGradientScale(kernel.size, range.positive) });
 * ```
 */
export function lsqQuantize(x: tf.Tensor, scale: tf.Tensor, settings: LsqSettings): tf.Tensor {
  const { range, gradientScale } = settings;
  const quantize = tf.customGrad(((input: tf.Tensor, step: tf.Tensor, save: tf.GradSaveFunc) => {
    const v = tf.div(input, step);
    const clipped = tf.clipByValue(v, -range.negative, range.positive);
    const rounded = tf.round(clipped);
    // The backward pass reuses v, clip(v) and round(clip(v)) instead of recomputing them.
    save([v, clipped, rounded, step]);
    return {
      value: tf.mul(rounded, step),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedV, savedClipped, savedRounded, savedStep] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        // Inside the range (boundary included) clip(v) equals v. There ∂x̂/∂s = round(v) - v, and outside
        // it is round(clip(v)) = -Q_N or Q_P, so ∂x̂/∂s = round(clip(v)) - inside·v in both cases.
        const inside = tf.cast(tf.equal(savedClipped, savedV), 'float32');
        const inputGradient = tf.mul(dy, inside);
        const stepGradient = tf.sub(tf.mul(dy, savedRounded), tf.mul(inputGradient, savedV));
        return [inputGradient, tf.mul(sumToShape(stepGradient, savedStep.shape), gradientScale)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return quantize(x, scale);
}
