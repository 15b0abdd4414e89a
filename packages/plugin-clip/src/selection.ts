import type * as tf from '@tensorflow/tfjs-core';

import type { GradientMap } from '@gradhooks/core';

/** Returns the entries of `gradients` whose variable matches, in their order; null entries included. */
export function selectGradients(gradients: GradientMap, matches: (name: string) => boolean): GradientMap {
  const selected: GradientMap = {};
  for (const [name, tensor] of Object.entries(gradients)) {
    if (matches(name)) {
      selected[name] = tensor;
    }
  }
  return selected;
}

/** Returns the non-null tensors of a gradient map, in order. */
export function presentTensors(gradients: GradientMap): tf.Tensor[] {
  return Object.values(gradients).filter((tensor): tensor is tf.Tensor => tensor !== null);
}

/**
 * Returns a map with the keys of `gradients` in their order, taking the
 * tensor from `replaced` where it has the key. This keeps the key set and
 * order that tfjs optimizers rely on.
 */
export function mergeGradients(gradients: GradientMap, replaced: GradientMap): GradientMap {
  const output: GradientMap = {};
  for (const [name, tensor] of Object.entries(gradients)) {
    output[name] = name in replaced ? (replaced[name] ?? null) : tensor;
  }
  return output;
}
