import * as tf from '@tensorflow/tfjs-core';

import { ErrorCode, GradhooksError } from '@gradhooks/core';

/** Options of `klToReference`. */
export interface KlToReferenceOptions {
  /** T: both sets of logits are divided by it and the loss is multiplied by T² (default 1, as Prompt-align's `LOSS.T`). */
  temperature?: number;
  /**
   * `'cross-entropy'` (default): the soft-target cross-entropy that
   * Prompt-align's `ProGradLoss` computes, which is the KL divergence plus
   * the reference's entropy. `'kl'`: the KL divergence itself. Both have the
   * same gradient with respect to the model's logits; they differ in value.
   */
  form?: 'cross-entropy' | 'kl';
}

/**
 * Computes the general-direction loss of ProGrad: how far the model's
 * predictions are from those of a frozen reference model on the same batch,
 * as Prompt-align's `ProGradLoss` does,
 *
 *   mean over the batch of Σ_c −softmax(z_ref / T)_c · log softmax(z / T)_c, times T².
 *
 * The classes are on the last axis, and every other axis is averaged. No
 * gradient flows into the reference logits (their gradient is zero), so the
 * reference model stays frozen. Computing its logits once per batch, outside
 * the loss closure, also saves a forward pass per objective.
 *
 * @example
 * ```ts
 * const referenceLogits = tf.tidy(() => reference.predict(x) as tf.Tensor);
 * optimizer.step({
 *   task: () => tf.losses.softmaxCrossEntropy(labels, model.apply(x) as tf.Tensor) as tf.Scalar,
 *   general: () => klToReference(model.apply(x) as tf.Tensor, referenceLogits),
 * });
 * ```
 */
export function klToReference(studentLogits: tf.Tensor, referenceLogits: tf.Tensor, options: KlToReferenceOptions = {}): tf.Scalar {
  const temperature = options.temperature ?? 1;
  const form = options.form ?? 'cross-entropy';
  checkTemperature(temperature);
  checkShapes(studentLogits, referenceLogits);
  if (form !== 'cross-entropy' && form !== 'kl') {
    throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `klToReference: form must be 'cross-entropy' or 'kl', received ${JSON.stringify(form)}.`, {
      path: 'form',
      received: form,
      expected: "'cross-entropy' or 'kl'",
      fix: "Pass form: 'cross-entropy' (the reference's loss) or 'kl'.",
    });
  }
  return softTargetLoss(temperature, form)(studentLogits, referenceLogits);
}

/**
 * Builds the loss as a custom-gradient op. Its gradient with respect to the
 * model's logits is T·(softmax(z / T) − softmax(z_ref / T)) / rows for both
 * forms. Its gradient with respect to the reference logits is zero, so the
 * reference is a constant target, as `detach()` makes it in the reference
 * code, even when its logits come from trainable variables.
 */
function softTargetLoss(temperature: number, form: 'cross-entropy' | 'kl'): (student: tf.Tensor, reference: tf.Tensor) => tf.Scalar {
  return tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [studentLogits, referenceLogits, save] = inputs as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { value, gradient } = tf.tidy(() => {
      const student = temperature === 1 ? studentLogits : tf.div(studentLogits, temperature);
      const reference = temperature === 1 ? referenceLogits : tf.div(referenceLogits, temperature);
      const logStudent = tf.logSoftmax(student);
      const logReference = tf.logSoftmax(reference);
      const target = tf.exp(logReference);
      const perClass = form === 'kl' ? tf.mul(target, tf.sub(logReference, logStudent)) : tf.neg(tf.mul(target, logStudent));
      const rows = studentLogits.size / studentLogits.shape[studentLogits.rank - 1]!;
      return {
        value: tf.mul(tf.mean(tf.sum(perClass, -1)), temperature * temperature) as tf.Scalar,
        gradient: tf.mul(tf.sub(tf.exp(logStudent), target), temperature / rows),
      };
    });
    save([gradient]);
    return {
      value,
      gradFunc: (dy: tf.Scalar, saved: tf.Tensor[]) => [tf.mul(dy, saved[0]!), tf.zerosLike(referenceLogits)],
    };
  }) as (student: tf.Tensor, reference: tf.Tensor) => tf.Scalar;
}

function checkTemperature(temperature: number): void {
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `klToReference: temperature must be a finite number above 0, received ${String(temperature)}.`, {
      path: 'temperature',
      received: temperature,
      expected: 'a finite number > 0',
      fix: 'Pass temperature: 1 (the default) or another positive number.',
    });
  }
}

function checkShapes(student: tf.Tensor, reference: tf.Tensor): void {
  const same = student.rank >= 1 && student.shape.length === reference.shape.length && student.shape.every((size, i) => size === reference.shape[i]);
  if (!same) {
    throw new GradhooksError(
      ErrorCode.ERR_OBJECTIVE_INVALID,
      `klToReference: the reference logits have shape [${reference.shape.join(', ')}] but the model's logits have shape [${student.shape.join(', ')}].`,
      {
        received: reference.shape,
        expected: `shape [${student.shape.join(', ')}], with the classes on the last axis`,
        fix: 'Compute both sets of logits on the same batch, from models with the same number of classes.',
      },
    );
  }
}
