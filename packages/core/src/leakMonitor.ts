import * as tf from '@tensorflow/tfjs-core';

import { ErrorCode, GradhooksError } from './errors.js';
import type { StepContext } from './StepContext.js';

/** Tensors whose lifetime a `TensorState` manages; they are never counted as leaks. */
const managed = new WeakSet<tf.Tensor>();

/** Marks a tensor as state whose disposal something else manages (TensorState does). */
export function markManaged(tensor: tf.Tensor): void {
  managed.add(tensor);
}

interface EngineHooks {
  keep<T extends tf.Tensor>(tensor: T): T;
  makeVariable(initialValue: tf.Tensor, trainable?: boolean, name?: string, dtype?: tf.DataType): tf.Variable;
}

/**
 * Finds plugins that leak tensors. While a step runs, it records every tensor
 * a tap protects with `tf.keep` and every variable a tap creates, by plugin,
 * unless a `TensorState` manages it. After each step it counts which of those
 * are still alive; a plugin whose count grows on `patience` steps in a row
 * leaks, because state that is replaced as it should be stays constant.
 */
export class LeakMonitor {
  private readonly alive = new Map<string, Set<tf.Tensor>>();
  private readonly counts = new Map<string, number[]>();

  constructor(private readonly patience: number) {}

  /** Runs `fn` with tensor protection and variable creation attributed to the step's current plugin. */
  watch<T>(step: StepContext, fn: () => T): T {
    const engine = tf.engine() as unknown as EngineHooks;
    const keep = engine.keep;
    const makeVariable = engine.makeVariable;
    const record = (tensor: tf.Tensor) => {
      const plugin = step.currentPlugin;
      if (plugin === undefined || managed.has(tensor)) {
        return;
      }
      let tensors = this.alive.get(plugin);
      if (tensors === undefined) {
        tensors = new Set();
        this.alive.set(plugin, tensors);
      }
      tensors.add(tensor);
    };
    engine.keep = <U extends tf.Tensor>(tensor: U): U => {
      record(tensor);
      return keep.call(engine, tensor) as U;
    };
    engine.makeVariable = (...args: Parameters<EngineHooks['makeVariable']>) => {
      const variable = makeVariable.apply(engine, args);
      record(variable);
      return variable;
    };
    try {
      return fn();
    } finally {
      engine.keep = keep;
      engine.makeVariable = makeVariable;
    }
  }

  /**
   * Counts, after a step, the recorded tensors each plugin still holds, and
   * raises ERR_PLUGIN_LEAK for a plugin whose count grew on each of the last
   * `patience` steps.
   */
  endStep(): void {
    for (const [plugin, tensors] of this.alive) {
      for (const tensor of tensors) {
        if (tensor.isDisposed) {
          tensors.delete(tensor);
        }
      }
      const history = this.counts.get(plugin) ?? [];
      history.push(tensors.size);
      if (history.length > this.patience + 1) {
        history.shift();
      }
      this.counts.set(plugin, history);
      const growing = history.length === this.patience + 1 && history.every((count, i) => i === 0 || count > history[i - 1]!);
      if (growing) {
        const perStep = (history[history.length - 1]! - history[0]!) / this.patience;
        throw new GradhooksError(
          ErrorCode.ERR_PLUGIN_LEAK,
          `Plugin '${plugin}' leaks tensors: it keeps about ${perStep.toFixed(1)} more tensor(s) alive after every step (${tensors.size} now, over the last ${this.patience} steps). The update of this step was applied.`,
          {
            plugin,
            received: `${tensors.size} tensors kept with tf.keep or created as variables in its taps`,
            expected: 'a constant number of kept tensors from one step to the next',
            fix: 'Keep state in a TensorState (it disposes the value it replaces), or dispose the previous tensor when a tf.keep-protected one replaces it.',
          },
        );
      }
    }
  }
}
