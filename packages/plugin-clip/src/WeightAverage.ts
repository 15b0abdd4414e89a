import * as tf from '@tensorflow/tfjs-core';

import { decodeTensor, encodeTensor, ErrorCode, GradhooksError } from '@gradhooks/core';
import type { EncodedTensor, JsonValue, StepContext } from '@gradhooks/core';

import { debias, emaDecay, emaUpdate } from './math/ema.js';
import { invalidState, StateReader } from './state.js';

/** Saved state of an exponential moving average of weights. */
export interface WeightAverageState {
  /** Updates applied so far: one per applied optimizer step. */
  updates: number;
  /** Decay in use; it differs from the option when changed at run time. */
  decay: number;
  /** Average of each variable, and the product of the decays applied to it (for bias correction). */
  averages: Record<string, { value: EncodedTensor; product: number }>;
}

interface Average {
  value: tf.Tensor;
  product: number;
}

/**
 * An exponential moving average of variables, updated once per applied
 * optimizer step, with a way to swap the averages into the variables for
 * evaluation and back. The `ema-weights` plugin creates one; get it with
 * `emaWeightsOf(optimizer)`.
 *
 * Without bias correction, a variable's average starts at the variable's
 * value before the first update it takes part in. With bias correction it
 * starts at zero, and reading it divides by 1 - (product of the decays).
 */
export class WeightAverage {
  private readonly averages = new Map<string, Average>();
  private saved: Map<string, tf.Tensor> | undefined;
  private decayValue: number;
  private updateCount = 0;
  private disposed = false;

  constructor(
    private readonly plugin: string,
    decay: number,
    private readonly warmup: boolean,
    private readonly biasCorrection: boolean,
  ) {
    this.decayValue = checkDecay(plugin, decay);
  }

  /** Decay of the next updates. Setting it takes effect at the next update; warm-up still caps it. */
  get decay(): number {
    return this.decayValue;
  }

  set decay(value: number) {
    this.decayValue = checkDecay(this.plugin, value);
  }

  /** Updates applied so far: one per applied optimizer step. */
  get updates(): number {
    return this.updateCount;
  }

  /** True while the averages are swapped into the variables. */
  get swapped(): boolean {
    return this.saved !== undefined;
  }

  /** Names of the variables that have an average, in the order they were first seen. */
  variableNames(): string[] {
    return [...this.averages.keys()];
  }

  /** Returns the average of a variable as a new tensor the caller owns (bias-corrected when enabled), or undefined. */
  average(name: string): tf.Tensor | undefined {
    const average = this.averages.get(name);
    if (average === undefined) {
      return undefined;
    }
    return this.biasCorrection ? debias(average.value, average.product) : tf.clone(average.value);
  }

  /**
   * Writes the averages into their variables and keeps the current values
   * aside until `restore()`. Training steps are rejected while swapped.
   * Variables that no longer exist are skipped.
   */
  swapIn(): void {
    this.checkUsable();
    if (this.saved !== undefined) {
      throw this.usageError('The averaged weights are already swapped in.', 'Call restore() before swapIn() again.');
    }
    const saved = new Map<string, tf.Tensor>();
    tf.tidy(() => {
      for (const name of this.averages.keys()) {
        const variable = tf.engine().registeredVariables[name];
        if (variable === undefined || variable.isDisposed) {
          continue;
        }
        saved.set(name, tf.keep(tf.clone(variable)));
        variable.assign(this.average(name)!);
      }
    });
    this.saved = saved;
  }

  /** Writes back the values `swapIn()` set aside. */
  restore(): void {
    if (this.saved === undefined) {
      throw this.usageError('The averaged weights are not swapped in.', 'Call swapIn() first.');
    }
    for (const [name, value] of this.saved) {
      const variable = tf.engine().registeredVariables[name];
      if (variable !== undefined && !variable.isDisposed) {
        variable.assign(value);
      }
      value.dispose();
    }
    this.saved = undefined;
  }

  /** Runs `fn` with the averages swapped in, and restores the trained values afterwards, also when `fn` throws. */
  async withAveragedWeights<T>(fn: () => T | Promise<T>): Promise<T> {
    this.swapIn();
    try {
      return await fn();
    } finally {
      this.restore();
    }
  }

  /**
   * Starts the averages of variables seen for the first time at their
   * current value (the value before this step's update), adopted only if the
   * step is applied. Rejects the step while the averages are swapped in.
   */
  begin(step: StepContext, variables: readonly tf.Variable[]): void {
    if (this.saved !== undefined) {
      throw this.usageError(
        'A training step started while the averaged weights were swapped in, so it would train the averages.',
        'Call restore() after evaluating with the averaged weights, before training again.',
      );
    }
    if (this.biasCorrection) {
      return;
    }
    for (const variable of variables) {
      if (this.averages.has(variable.name)) {
        continue;
      }
      const start = tf.keep(tf.clone(variable));
      let adopted = false;
      step.onCommit(() => {
        if (!this.averages.has(variable.name)) {
          this.averages.set(variable.name, { value: start, product: 1 });
          adopted = true;
        }
      });
      step.onAbort(() => {
        if (!adopted) {
          start.dispose();
        }
      });
    }
  }

  /** Applies one update to the averages of `variables`, after the optimizer applied a step. Returns the decay used. */
  update(variables: readonly tf.Variable[]): number {
    const t = this.updateCount + 1;
    const decay = emaDecay(this.decayValue, t, this.warmup);
    for (const variable of variables) {
      let average = this.averages.get(variable.name);
      if (average === undefined) {
        if (!this.biasCorrection) {
          // Seen for the first time after this step's beginStep; its average starts at the next step.
          continue;
        }
        average = { value: tf.keep(tf.zerosLike(variable)), product: 1 };
        this.averages.set(variable.name, average);
      }
      const next = tf.keep(emaUpdate(average.value, variable, decay));
      average.value.dispose();
      average.value = next;
      average.product *= decay;
    }
    this.updateCount = t;
    return decay;
  }

  /** Returns the state as JSON; tensors are encoded bit for bit. */
  save(): JsonValue {
    const averages: WeightAverageState['averages'] = {};
    for (const [name, average] of this.averages) {
      averages[name] = { value: encodeTensor(average.value), product: average.product };
    }
    return { updates: this.updateCount, decay: this.decayValue, averages } satisfies WeightAverageState as unknown as JsonValue;
  }

  /** Replaces the state with one from `save()`. */
  load(saved: JsonValue): void {
    const reader = new StateReader(this.plugin, saved);
    const updates = reader.integer('updates');
    const decay = reader.number('decay');
    const loaded = new Map<string, Average>();
    try {
      for (const [name, entry] of Object.entries(reader.record('averages'))) {
        const fields = new StateReader(this.plugin, entry);
        const product = fields.number('product');
        loaded.set(name, { value: tf.keep(decodeTensor(fields.record('value') as unknown as EncodedTensor)), product });
      }
    } catch (error) {
      loaded.forEach((average) => average.value.dispose());
      if (error instanceof GradhooksError) {
        throw error;
      }
      throw invalidState(this.plugin, 'averages', saved, 'encoded tensors with their decay products');
    }
    this.decayValue = checkDecay(this.plugin, decay);
    this.updateCount = updates;
    this.disposeAverages();
    for (const [name, average] of loaded) {
      this.averages.set(name, average);
    }
  }

  /** Restores swapped-out values if needed and frees every tensor; later swaps raise ERR_SESSION_DISPOSED. */
  dispose(): void {
    if (this.saved !== undefined) {
      this.restore();
    }
    this.disposeAverages();
    this.disposed = true;
  }

  private checkUsable(): void {
    if (this.disposed) {
      throw new GradhooksError(ErrorCode.ERR_SESSION_DISPOSED, `The weight averages of plugin '${this.plugin}' were disposed with their optimizer.`, {
        plugin: this.plugin,
        fix: 'Swap the averages in before disposing the optimizer, or keep the optimizer until evaluation is done.',
      });
    }
  }

  private disposeAverages(): void {
    this.averages.forEach((average) => average.value.dispose());
    this.averages.clear();
  }

  private usageError(message: string, fix: string): GradhooksError {
    return new GradhooksError(ErrorCode.ERR_PLUGIN_FAILED, message, { plugin: this.plugin, fix });
  }
}

function checkDecay(plugin: string, decay: number): number {
  if (!(decay >= 0 && decay < 1)) {
    throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `The decay of plugin '${plugin}' must be at least 0 and below 1, received ${decay}.`, {
      plugin,
      path: '/decay',
      received: decay,
      expected: 'a number >= 0 and < 1',
      fix: 'Use a decay such as 0.99 or 0.999.',
    });
  }
  return decay;
}
