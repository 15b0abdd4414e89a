import * as tf from '@tensorflow/tfjs-core';

/** Settings of a SAM-style weight perturbation. */
export interface PerturbationSettings {
  /** Radius ρ of the perturbation (L2 norm of ε, or of ε/T in the adaptive form). */
  rho: number;
  /** Adaptive form (ASAM): scales each element by T = |w| + η. */
  adaptive: boolean;
  /** η added to |w| in the adaptive form. */
  eta: number;
}

/** Guard added to the gradient norm so a zero gradient gives a zero perturbation, never NaN. */
export const NORM_EPSILON = 1e-12;

/**
 * Computes the SAM ascent step ε for every variable in `gradients`
 * (Foret et al., "Sharpness-Aware Minimization for Efficiently Improving
 * Generalization", ICLR 2021):
 *
 * - plain: ε = ρ·g / (‖g‖ + 1e-12), with ‖g‖ the L2 norm over all the variables together;
 * - adaptive (Kwon et al., "ASAM", ICML 2021): with T = |w| + η element-wise,
 *   ε = ρ·T²·g / (‖T·g‖ + 1e-12).
 *
 * `weights` must hold the current value of every variable in `gradients`
 * when `adaptive` is set. Returns new tensors; the inputs are not disposed.
 */
export function sharpnessPerturbation(
  gradients: Readonly<Record<string, tf.Tensor>>,
  weights: Readonly<Record<string, tf.Tensor>>,
  settings: PerturbationSettings,
): Record<string, tf.Tensor> {
  const names = Object.keys(gradients);
  if (names.length === 0) {
    return {};
  }
  return tf.tidy(() => {
    const scaling: Record<string, tf.Tensor> = {};
    for (const name of names) {
      if (settings.adaptive) {
        const weight = weights[name];
        if (weight === undefined) {
          throw new Error(`sharpnessPerturbation: the adaptive form needs the value of variable '${name}'`);
        }
        scaling[name] = tf.add(tf.abs(weight), settings.eta);
      }
    }
    const scaled = names.map((name) => (settings.adaptive ? tf.mul(gradients[name]!, scaling[name]!) : gradients[name]!));
    const squares = scaled.map((tensor) => tf.sum(tf.square(tensor)));
    const norm = tf.sqrt(squares.length === 1 ? squares[0]! : tf.addN(squares));
    const factor = tf.div(tf.scalar(settings.rho), tf.add(norm, NORM_EPSILON));
    const result: Record<string, tf.Tensor> = {};
    names.forEach((name, i) => {
      // Adaptive: T·(T·g)·factor = T²·g·factor.
      const direction = settings.adaptive ? tf.mul(scaled[i]!, scaling[name]!) : scaled[i]!;
      result[name] = tf.mul(direction, factor);
    });
    return result;
  });
}
