import * as tf from '@tensorflow/tfjs-core';

import type { GradientMap, ObjectiveGradients } from '@gradhooks/core';

/**
 * Adds one micro-batch's objective gradients to running sums, objective by
 * objective and variable by variable, and returns new sums; `sums` and
 * `gradients` are not changed. A variable missing or null in one of them
 * takes the other's tensor, so a variable a micro-batch does not reach
 * contributes zero to the sum, and a variable no micro-batch reaches stays
 * null. Objectives keep their order of first appearance; variables follow `order`.
 */
export function addObjectiveGradients(sums: ObjectiveGradients, gradients: ObjectiveGradients, order: readonly string[]): ObjectiveGradients {
  const result: ObjectiveGradients = {};
  const objectives = [...new Set([...Object.keys(sums), ...Object.keys(gradients)])];
  for (const objective of objectives) {
    const before = sums[objective] ?? {};
    const added = gradients[objective] ?? {};
    const map: GradientMap = {};
    for (const name of order) {
      if (!(name in before) && !(name in added)) {
        continue;
      }
      const left = before[name] ?? null;
      const right = added[name] ?? null;
      if (left !== null && right !== null) {
        map[name] = tf.add(left, right);
      } else if (left !== null || right !== null) {
        map[name] = tf.clone((left ?? right)!);
      } else {
        map[name] = null;
      }
    }
    result[objective] = map;
  }
  return result;
}

/** Divides every gradient of every objective by `count`, keeping keys, order and nulls. */
export function divideObjectiveGradients(sums: ObjectiveGradients, count: number): ObjectiveGradients {
  const result: ObjectiveGradients = {};
  for (const [objective, map] of Object.entries(sums)) {
    const divided: GradientMap = {};
    for (const [name, tensor] of Object.entries(map)) {
      divided[name] = tensor === null ? null : tf.div(tensor, count);
    }
    result[objective] = divided;
  }
  return result;
}

/** Lists every tensor of objective gradients, skipping nulls. */
export function tensorsOf(gradients: ObjectiveGradients): tf.Tensor[] {
  return Object.values(gradients).flatMap((map) => Object.values(map).filter((tensor): tensor is tf.Tensor => tensor !== null));
}
