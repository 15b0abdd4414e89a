import * as tf from '@tensorflow/tfjs';

import { shuffled, xorshift32 } from './random.js';
import type { Variant } from './variants.js';

/** Timings of one variant over the timed rounds. */
export interface VariantTimings {
  /** Step time in milliseconds, one entry per round, in round order. */
  milliseconds: number[];
  /** Steps after which tfjs held more tensors than before them. */
  growingSteps: number;
  /** Net change of `tf.memory().numTensors` over all timed steps of this variant. */
  tensorGrowth: number;
}

/**
 * Runs the variants round-robin: every round runs each variant once, so slow
 * drift of the machine falls on all variants alike. The order within a round
 * is shuffled with a fixed seed, so no variant always follows the same
 * neighbor and inherits its garbage-collection debt or cache state. Warm-up
 * rounds run the same way and are not recorded. Tensor counts are read
 * outside the timed region.
 */
export function runInterleaved(
  variants: readonly Variant[],
  rounds: number,
  warmupRounds: number,
  onRound: (done: number, total: number) => void = () => {},
  seed = 2024,
): { timings: Map<string, VariantTimings>; orders: string[][]; tensorsAfterWarmup: number; tensorsAtEnd: number } {
  const timings = new Map<string, VariantTimings>(
    variants.map((variant) => [variant.key, { milliseconds: [], growingSteps: 0, tensorGrowth: 0 }]),
  );
  const total = warmupRounds + rounds;
  let tensorsAfterWarmup = tf.memory().numTensors;
  const random = xorshift32(seed);
  const orders: string[][] = [];
  for (let round = 0; round < total; round++) {
    const recording = round >= warmupRounds;
    if (round === warmupRounds) {
      tensorsAfterWarmup = tf.memory().numTensors;
    }
    const order = shuffled(variants, random);
    if (recording) {
      orders.push(order.map((variant) => variant.key));
    }
    for (const variant of order) {
      const before = tf.memory().numTensors;
      const started = performance.now();
      variant.step();
      const elapsed = performance.now() - started;
      const growth = tf.memory().numTensors - before;
      if (recording) {
        const entry = timings.get(variant.key)!;
        entry.milliseconds.push(elapsed);
        entry.tensorGrowth += growth;
        if (growth > 0) {
          entry.growingSteps += 1;
        }
      }
    }
    onRound(round + 1, total);
  }
  return { timings, orders, tensorsAfterWarmup, tensorsAtEnd: tf.memory().numTensors };
}
