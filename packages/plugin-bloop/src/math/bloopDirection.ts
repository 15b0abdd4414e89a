import * as tf from '@tensorflow/tfjs-core';

import { dotParts, magnitudeScale, squaredNormParts } from '@gradhooks/core';

/**
 * The update rules of apple/ml-bloop `src/bloop/optim.py`:
 * - `bloop` (`bloop_direction`): d = g_main + λ·(g_aux − r·e), r = ⟨e, g_aux⟩ / (‖e‖² + ε);
 * - `dynamic-barrier` (`dynamic_barrier_direction`): the same with r capped at 1/λ;
 * - `ema-pcgrad` (`pcgrad_direction`): two-sided PCGrad against EMAs of both
 *   gradients, each ratio capped at 0 so that only conflicts are projected.
 */
export type BloopVariant = 'bloop' | 'dynamic-barrier' | 'ema-pcgrad';

/** Hyperparameters of one Bloop update. */
export interface BloopSettings {
  /** ρ: weight of the new gradient in the EMA, from 0 to 1 (not a decay; the decay is 1 − ρ). */
  ema: number;
  /** λ: weight of the projected auxiliary gradient in the update. */
  lambda: number;
  /** ε added to the EMA's squared norm in the ratio. */
  eps: number;
  variant: BloopVariant;
}

/**
 * One group of tensors that Bloop treats as a single flat vector: every
 * selected variable together (global scope, as the reference) or one variable.
 * Entry i of every list belongs to the same variable.
 */
export interface BloopInput {
  main: readonly tf.Tensor[];
  auxiliary: readonly tf.Tensor[];
  /** EMA of the main gradient before this step. */
  mainEma: readonly tf.Tensor[];
  /** EMA of the auxiliary gradient before this step; required by `ema-pcgrad`. */
  auxiliaryEma?: readonly tf.Tensor[];
}

/** Result of `bloopDirection`. Scalars stay on the device until read. */
export interface BloopResult {
  /** The update d, one tensor per input part. */
  direction: tf.Tensor[];
  /** EMA of the main gradient after this step; keep it only when `finite` is true. */
  mainEma: tf.Tensor[];
  /** EMA of the auxiliary gradient after this step (`ema-pcgrad` only); keep it only when `finite` is true. */
  auxiliaryEma: tf.Tensor[] | undefined;
  /** r: coefficient of the main-gradient EMA removed from the auxiliary gradient, after the variant's cap. */
  ratio: tf.Scalar;
  /** `ema-pcgrad` only: coefficient of the auxiliary-gradient EMA removed from the main gradient, after its cap at 0. */
  mainRatio: tf.Scalar | undefined;
  /** Boolean scalar: false when a gradient or a product of them was not finite; the new EMAs must then be discarded. */
  finite: tf.Scalar;
  /** The projection of the auxiliary gradient away from the updated main-gradient EMA, for telemetry. */
  auxiliaryProjection: ProjectionResult;
}

/**
 * Projection of one vector away from a reference vector; see `projectAway`.
 * The reference enters divided by `scale`, so ⟨reference, vector⟩ is
 * `scaledDot`·`scale` and ‖reference‖² is `scaledSquaredNorm`·`scale`².
 */
export interface ProjectionResult {
  /** vector − r·reference, one tensor per part. */
  projected: tf.Tensor[];
  /** r after the cap. */
  ratio: tf.Scalar;
  /** Largest magnitude of the reference, at least 1e-30. */
  scale: tf.Scalar;
  /** ⟨reference/scale, vector⟩. */
  scaledDot: tf.Scalar;
  /** ‖reference/scale‖². */
  scaledSquaredNorm: tf.Scalar;
  /** Boolean scalar: whether the dot product and squared norm were finite. */
  finite: tf.Scalar;
}

/**
 * Updates an EMA as ml-bloop's `update_ema` does: e + ρ·(g − e). With ρ = 1
 * the result is g itself, bit for bit, and with e = g it is e.
 */
export function updateEma(previous: tf.Tensor, gradient: tf.Tensor, rate: number): tf.Tensor {
  if (rate === 1) {
    return tf.clone(gradient);
  }
  return tf.add(previous, tf.mul(tf.sub(gradient, previous), rate));
}

/**
 * Removes from `vector` its component along `reference`, as ml-bloop's
 * `tree_proj` does: vector − r·reference with
 * r = ⟨reference, vector⟩ / (‖reference‖² + eps), where r is first capped
 * at `upperBound` when one is given. The parts of each list form one flat
 * vector. The reference is divided by its largest magnitude before the
 * products, which gives the same r in exact arithmetic and keeps ‖reference‖²
 * from overflowing or underflowing float32.
 */
export function projectAway(
  reference: readonly tf.Tensor[],
  vector: readonly tf.Tensor[],
  eps: number,
  upperBound?: number,
): ProjectionResult {
  return tf.tidy(() => {
    const scale = magnitudeScale(reference);
    const scaled = reference.map((part) => tf.div(part, scale));
    const scaledDot = dotParts(scaled, vector);
    const scaledSquaredNorm = squaredNormParts(scaled);
    // r·reference = coefficient·scaled, with coefficient = r·scale = ⟨scaled, vector⟩ / (‖scaled‖² + eps/scale²).
    let coefficient = tf.div(scaledDot, tf.add(scaledSquaredNorm, tf.div(eps, tf.square(scale)))) as tf.Scalar;
    if (upperBound !== undefined) {
      coefficient = tf.minimum(coefficient, tf.mul(scale, upperBound)) as tf.Scalar;
    }
    return {
      projected: vector.map((part, i) => tf.sub(part, tf.mul(scaled[i]!, coefficient))),
      ratio: tf.div(coefficient, scale) as tf.Scalar,
      scale,
      scaledDot,
      scaledSquaredNorm,
      finite: tf.isFinite(tf.add(scaledDot, scaledSquaredNorm)) as tf.Scalar,
    } as unknown as tf.TensorContainer;
  }) as unknown as ProjectionResult;
}

/**
 * Computes one Bloop update (Hsieh et al., "Careful with that Scalpel:
 * Improving Gradient Surgery with an EMA", ICML 2024), following
 * apple/ml-bloop: the EMA is updated first with the current main gradient,
 * then the auxiliary gradient is projected onto the orthogonal complement of
 * the updated EMA, and d = g_main + λ·projection. See `BloopVariant` for
 * the other two rules.
 *
 * `finite` is false when a dot product or squared norm involved is not
 * finite, which a NaN or infinite gradient always causes. The caller then
 * keeps the previous EMAs, so a non-finite gradient never enters them. The
 * direction is non-finite too, and core's final check (or the `nonfinite`
 * guard before it) refuses the step. The caller reads `finite` and decides:
 * selecting whole tensors on the device with a scalar condition would cost
 * more than the update itself on the wasm backend, where tfjs 4.22 first
 * tiles the condition to the full shape.
 */
export function bloopDirection(input: BloopInput, settings: BloopSettings): BloopResult {
  return tf.tidy(() => {
    const candidateMain = input.main.map((gradient, i) => updateEma(input.mainEma[i]!, gradient, settings.ema));

    if (settings.variant !== 'ema-pcgrad') {
      const upperBound = settings.variant === 'dynamic-barrier' ? 1 / settings.lambda : undefined;
      const auxiliary = projectAway(candidateMain, input.auxiliary, settings.eps, upperBound);
      return {
        direction: input.main.map((gradient, i) => tf.add(gradient, multiplyBy(auxiliary.projected[i]!, settings.lambda))),
        mainEma: candidateMain,
        auxiliaryEma: undefined,
        ratio: auxiliary.ratio,
        mainRatio: undefined,
        finite: auxiliary.finite,
        auxiliaryProjection: auxiliary,
      } as unknown as tf.TensorContainer;
    }

    if (input.auxiliaryEma === undefined) {
      throw new Error("bloopDirection: variant 'ema-pcgrad' needs auxiliaryEma");
    }
    const candidateAuxiliary = input.auxiliary.map((gradient, i) => updateEma(input.auxiliaryEma![i]!, gradient, settings.ema));
    const auxiliary = projectAway(candidateMain, input.auxiliary, settings.eps, 0);
    const main = projectAway(candidateAuxiliary, input.main, settings.eps, 0);
    const finite = tf.logicalAnd(auxiliary.finite, main.finite) as tf.Scalar;
    return {
      direction: main.projected.map((part, i) => tf.add(part, multiplyBy(auxiliary.projected[i]!, settings.lambda))),
      mainEma: candidateMain,
      auxiliaryEma: candidateAuxiliary,
      ratio: auxiliary.ratio,
      mainRatio: main.ratio,
      finite,
      auxiliaryProjection: auxiliary,
    } as unknown as tf.TensorContainer;
  }) as unknown as BloopResult;
}

function multiplyBy(tensor: tf.Tensor, factor: number): tf.Tensor {
  return factor === 1 ? tensor : tf.mul(tensor, factor);
}
