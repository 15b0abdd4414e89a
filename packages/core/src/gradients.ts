import * as tf from '@tensorflow/tfjs-core';

/**
 * Gradients of one loss, keyed by variable name. A `null` entry marks a
 * variable of the optimizer that has no gradient this step. It is kept in
 * place and never replaced by zeros.
 */
export type GradientMap = Record<string, tf.Tensor | null>;

/** A gradient or weight with its variable name, as tfjs optimizers take them in a list. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One gradient map per objective, in objective order: the named form of the Jacobian. */
export type ObjectiveGradients = Record<string, GradientMap>;

/** Loss value and gradients of one objective, as `tf.variableGrads` returns them. */
export interface ObjectiveResult {
  value: tf.Scalar;
  grads: GradientMap;
}

/**
 * Source of an objective's gradients: a loss closure that core
 * differentiates with `tf.variableGrads`, or a function that computes the
 * gradients itself (for example at perturbed weights, for a sharpness objective).
 */
export type ObjectiveSource =
  | { loss: () => tf.Scalar; weight?: number }
  | { gradients: (variables: readonly tf.Variable[]) => ObjectiveResult; weight?: number };

/** Objective sources keyed by objective name, in objective order. */
export type ObjectiveSources = Record<string, ObjectiveSource>;

/**
 * Per-objective gradients with respect to a shared representation, as the
 * fan-out op receives them in one backward pass. Every tensor has the shape
 * of the representation.
 */
export type RepresentationGradients = Record<string, tf.Tensor>;

/**
 * Lists, for each variable in `order`, the objectives whose map has a non-null
 * gradient for it. Variables no objective reaches get an empty list.
 */
export function objectivesPerVariable(
  gradients: ObjectiveGradients,
  order: readonly string[],
): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const name of order) {
    result.set(name, []);
  }
  for (const [objective, map] of Object.entries(gradients)) {
    for (const [name, tensor] of Object.entries(map)) {
      if (tensor == null) {
        continue;
      }
      let list = result.get(name);
      if (list === undefined) {
        list = [];
        result.set(name, list);
      }
      list.push(objective);
    }
  }
  return result;
}

/**
 * Splits variables into shared ones (a non-null gradient in two or more
 * objectives) and task-specific ones (exactly one), keeping `order`.
 * Surgery applies to shared variables only; task-specific variables pass
 * through from their single objective.
 */
export function partitionVariables(
  gradients: ObjectiveGradients,
  order: readonly string[],
): { shared: string[]; taskSpecific: Map<string, string> } {
  const shared: string[] = [];
  const taskSpecific = new Map<string, string>();
  for (const [name, objectives] of objectivesPerVariable(gradients, order)) {
    if (objectives.length >= 2) {
      shared.push(name);
    } else if (objectives.length === 1) {
      taskSpecific.set(name, objectives[0]!);
    }
  }
  return { shared, taskSpecific };
}

/**
 * Concatenates the named gradients of one map into a flat float32 vector,
 * aligned by name in the order given. Every name must have a non-null tensor.
 */
export function flattenGradients(map: GradientMap, names: readonly string[]): tf.Tensor1D {
  return tf.tidy(() => {
    if (names.length === 0) {
      return tf.zeros([0]) as tf.Tensor1D;
    }
    const parts = names.map((name) => {
      const tensor = map[name];
      if (tensor == null) {
        throw new Error(`flattenGradients: no gradient for variable '${name}'`);
      }
      return tf.reshape(tensor, [-1]);
    });
    return (parts.length === 1 ? parts[0]! : tf.concat(parts)) as tf.Tensor1D;
  });
}

/** Stacks the flattened gradients of several objectives into a [K, P] matrix. */
export function stackObjectives(
  gradients: ObjectiveGradients,
  objectives: readonly string[],
  names: readonly string[],
): tf.Tensor2D {
  return tf.tidy(() => tf.stack(objectives.map((objective) => flattenGradients(gradients[objective]!, names))) as tf.Tensor2D);
}

/**
 * Sums the gradient maps of all objectives variable by variable, in objective
 * order. Variables with no gradient in any objective are left out, and a
 * variable reached by one objective keeps that objective's tensor unchanged.
 */
export function sumObjectiveGradients(gradients: ObjectiveGradients, order: readonly string[]): GradientMap {
  const result: GradientMap = {};
  const perVariable = objectivesPerVariable(gradients, order);
  for (const [name, objectives] of perVariable) {
    if (objectives.length === 0) {
      continue;
    }
    let total = gradients[objectives[0]!]![name]!;
    for (let i = 1; i < objectives.length; i++) {
      total = tf.add(total, gradients[objectives[i]!]![name]!);
    }
    result[name] = total;
  }
  return result;
}

/**
 * Returns a map with exactly the keys of `order`, in that order: the tensor of
 * `map` where present, `null` elsewhere. This is the form handed to tfjs
 * optimizers, which key their slots by position.
 */
export function alignToOrder(map: GradientMap, order: readonly string[]): GradientMap {
  const result: GradientMap = {};
  for (const name of order) {
    result[name] = map[name] ?? null;
  }
  return result;
}

/**
 * Applies `fn` to every non-null gradient and returns a new map with the
 * same keys in the same order; null entries stay null.
 */
export function mapGradients(map: GradientMap, fn: (gradient: tf.Tensor, name: string) => tf.Tensor): GradientMap {
  const result: GradientMap = {};
  for (const [name, tensor] of Object.entries(map)) {
    result[name] = tensor === null ? null : fn(tensor, name);
  }
  return result;
}
