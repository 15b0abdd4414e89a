import type * as tf from '@tensorflow/tfjs-core';
import { Callback } from '@tensorflow/tfjs-layers';
import type { Logs } from '@tensorflow/tfjs-layers';

import type { HookedOptimizer, StepResult } from '@gradhooks/core';

/**
 * Creates a `model.fit` callback that calls `optimizer.flush()` when training
 * ends, with the model's trainable variables: the list fit trains, so the
 * optimizer's slots keep their positions. A partial accumulation window is
 * then applied, divided by its own count. With nothing pending the flush is a
 * skipped step. `lastFlush` is the result of that flush.
 *
 * @example
 * ```ts
 * const optimizer = new HookedOptimizer(tf.train.adam(1e-3), { plugins: [accumulate({ steps: 4 })] });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * await model.fit(xs, ys, { epochs: 3, callbacks: [flushOnTrainEnd(optimizer)] });
 * ```
 */
export function flushOnTrainEnd(optimizer: HookedOptimizer): FlushOnTrainEnd {
  return new FlushOnTrainEnd(optimizer);
}

/** The callback `flushOnTrainEnd` returns. */
export class FlushOnTrainEnd extends Callback {
  /** Result of the flush at the end of the last `fit`; undefined before. */
  lastFlush: StepResult | undefined;

  constructor(private readonly optimizer: HookedOptimizer) {
    super();
  }

  override async onTrainEnd(_logs?: Logs): Promise<void> {
    if (this.model === null) {
      return;
    }
    // LayerVariable.read() returns the tf.Variable that fit passes to minimize.
    const variables = [...new Set(this.model.trainableWeights.map((weight) => weight.read() as tf.Variable))];
    this.lastFlush = this.optimizer.flush({ variables });
  }
}
