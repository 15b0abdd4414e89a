import * as tf from '@tensorflow/tfjs-core';

import { markManaged } from './leakMonitor.js';
import type { StepContext } from './StepContext.js';

/**
 * A tensor that lives across steps as plugin state (an EMA, an accumulator),
 * updated transactionally: `stage` keeps the new value aside, the session
 * adopts it after the optimizer step and disposes the old one, and a skipped
 * or failed step disposes the staged value instead.
 */
export class TensorState<T extends tf.Tensor = tf.Tensor> {
  private value: T | null;

  constructor(initial: T | null = null) {
    this.value = initial === null ? null : keepManaged(initial);
  }

  /** The committed value, or null before the first commit. */
  get current(): T | null {
    return this.value;
  }

  /** Stages `next` as the value after this step commits; takes ownership of `next`. */
  stage(step: StepContext, next: T): void {
    const kept = keepManaged(next);
    step.onCommit(() => {
      if (this.value !== null && this.value !== kept) {
        this.value.dispose();
      }
      this.value = kept;
    });
    step.onAbort(() => {
      if (kept !== this.value) {
        kept.dispose();
      }
    });
  }

  /** Replaces the value immediately, outside any step (checkpoint loading); takes ownership of `next`. */
  set(next: T | null): void {
    if (this.value !== null && this.value !== next) {
      this.value.dispose();
    }
    this.value = next === null ? null : keepManaged(next);
  }

  /** Disposes the value. */
  dispose(): void {
    this.value?.dispose();
    this.value = null;
  }
}

/** Protects a tensor from the step's tidy and marks it, for the leak monitor, as owned by a TensorState. */
function keepManaged<T extends tf.Tensor>(tensor: T): T {
  markManaged(tensor);
  return tf.keep(tensor);
}
