import * as tf from '@tensorflow/tfjs-core';

import { ErrorCode, GradhooksError } from '@gradhooks/core';
import type { GradientMap, ObjectiveResult, ObjectiveSource, ObjectiveSources } from '@gradhooks/core';

import { sharpnessPerturbation } from './math/perturbation.js';
import type { PerturbationSettings } from './math/perturbation.js';

/** Computes an objective's loss and gradients at the variables' current values. */
export function evaluateSource(source: ObjectiveSource, variables: readonly tf.Variable[]): ObjectiveResult {
  if ('loss' in source) {
    return tf.variableGrads(source.loss, [...variables]);
  }
  return source.gradients(variables);
}

/**
 * Evaluates `source` at the perturbed weights w + ε and restores w. ε is the
 * SAM ascent step computed from `gradients`, the gradient at w. It moves only
 * the variables for which `perturbs(name)` is true and `gradients` has a
 * tensor. Every moved variable gets back its exact original value (the same
 * bits) in a `finally` block, so an error in `source` restores it too.
 *
 * Non-trainable state that the forward pass updates (batch-normalization
 * moving statistics) is not restored and sees the perturbed pass.
 */
export function evaluateAtPerturbedWeights(
  source: ObjectiveSource,
  variables: readonly tf.Variable[],
  gradients: GradientMap,
  settings: PerturbationSettings,
  perturbs: (name: string) => boolean,
): ObjectiveResult {
  const moved = variables.filter((variable) => perturbs(variable.name) && gradients[variable.name] != null);
  const selected: Record<string, tf.Tensor> = {};
  const weights: Record<string, tf.Tensor> = {};
  for (const variable of moved) {
    selected[variable.name] = gradients[variable.name]!;
    weights[variable.name] = variable;
  }
  const epsilon = sharpnessPerturbation(selected, weights, settings);
  const originals: Array<[tf.Variable, tf.Tensor]> = [];
  try {
    for (const variable of moved) {
      // tf.clone keeps the current value: assign below gives the variable new data and leaves this tensor's data alone.
      originals.push([variable, tf.clone(variable)]);
      const shifted = tf.add(variable, epsilon[variable.name]!);
      variable.assign(shifted);
      shifted.dispose();
    }
    return evaluateSource(source, variables);
  } finally {
    for (const [variable, original] of originals) {
      variable.assign(original);
      original.dispose();
    }
    tf.dispose(Object.values(epsilon));
  }
}

/**
 * Returns the surrogate gap h(w) = L(w + ε) - L(w) and its gradient
 * ∇L(w + ε) - ∇L(w), variable by variable. A variable that only the
 * perturbed pass reaches keeps the perturbed gradient; null stays null.
 */
export function surrogateGap(perturbed: ObjectiveResult, atWeights: ObjectiveResult): ObjectiveResult {
  const grads: GradientMap = {};
  for (const [name, gradient] of Object.entries(perturbed.grads)) {
    const base = atWeights.grads[name] ?? null;
    if (gradient === null || base === null) {
      grads[name] = gradient;
    } else {
      grads[name] = tf.sub(gradient, base);
    }
  }
  return { value: tf.sub(perturbed.value, atWeights.value) as tf.Scalar, grads };
}

/**
 * Picks the objective a sharpness plugin perturbs: the one named by its
 * option, or the step's only objective other than `exclude`.
 */
export function perturbedObjective(sources: ObjectiveSources, requested: string | undefined, exclude: string | undefined, plugin: string): string {
  const names = Object.keys(sources).filter((name) => name !== exclude);
  if (requested !== undefined) {
    if (!(requested in sources)) {
      throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Plugin '${plugin}' perturbs objective '${requested}', but the step has no such objective.`, {
        plugin,
        path: '/objective',
        received: requested,
        expected: `one of the step's objectives: ${names.join(', ')}`,
        fix: `Set 'objective' to one of ${names.join(', ')}; inside model.fit a single-output model's objective is named 'loss'.`,
      });
    }
    return requested;
  }
  if (names.length !== 1) {
    throw new GradhooksError(
      ErrorCode.ERR_OPTIONS_INVALID,
      `Plugin '${plugin}' perturbs one objective, but the step has ${names.length} (${names.join(', ')}) and option 'objective' is not set.`,
      {
        plugin,
        path: '/objective',
        received: names,
        expected: 'option objective naming one of them',
        fix: `Set 'objective' to the objective whose loss the perturbed pass re-runs, for example '${names[0] ?? 'task'}'.`,
      },
    );
  }
  return names[0]!;
}
