import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs `step` `steps` times and returns `tf.memory().numTensors` after each
 * call. At steady state every count after the first equals the previous one
 * (the first step may create optimizer slot variables).
 */
export function tensorCountsPerStep(step: (index: number) => void, steps: number): number[] {
  const counts: number[] = [];
  for (let i = 0; i < steps; i++) {
    step(i);
    counts.push(tf.memory().numTensors);
  }
  return counts;
}

/** Asserts that the tensor count is the same after every step from `from` on. */
export function assertSteadyTensorCount(counts: readonly number[], from = 1): void {
  const steady = counts.slice(from);
  const growth = steady.length === 0 ? 0 : steady[steady.length - 1]! - steady[0]!;
  const changed = steady.findIndex((count, i) => i > 0 && count !== steady[i - 1]);
  if (changed >= 0) {
    throw new Error(
      `tf.memory().numTensors changed from ${steady[changed - 1]} to ${steady[changed]} at step ${changed + from} (counts ${counts.join(', ')}; growth ${growth})`,
    );
  }
}

/**
 * Runs `fn` and asserts that it leaves `tf.memory().numTensors` where it
 * found it. Returns what `fn` returned.
 */
export async function assertNoLeak<T>(fn: () => T | Promise<T>, label = 'operation'): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`${label} left ${after - before} tensor(s) allocated (${before} before, ${after} after)`);
  }
  return result;
}
