import * as tf from '@tensorflow/tfjs-core';

import type { LayersModel } from '@tensorflow/tfjs-layers';

import type { SessionCheckpoint } from './checkpoint.js';
import type { NamedTensor, ObjectiveSource } from './gradients.js';
import { repairAdamPowers } from './optimizerState.js';
import type { Telemetry } from './telemetry.js';
import { TrainingSession } from './TrainingSession.js';
import type { SessionOptions, StepResult } from './TrainingSession.js';

/**
 * A `tf.Optimizer` that runs the gradhooks bus between computing and
 * applying gradients. It wraps any tfjs optimizer; `model.fit`,
 * `fitDataset`, `trainOnBatch` and `optimizer.minimize` all go through it.
 * With no plugins it applies exactly the update of the wrapped optimizer.
 *
 * It serializes as the optimizer it wraps (class name and config), so
 * `model.save` writes a training config that loads as that optimizer.
 *
 * @example
 * ```ts
 * const optimizer = new HookedOptimizer(tf.train.adam(1e-3), {
 *   plugins: [pcgrad({ seed: 7 }), clipGlobalNorm({ maxNorm: 5 })],
 *   model,
 * });
 * model.compile({ optimizer, loss: ['categoricalCrossentropy', 'categoricalCrossentropy'] });
 * await model.fit(xs, [yLeft, yRight], { epochs: 3 });
 * ```
 */
export class HookedOptimizer extends tf.Optimizer {
  readonly session: TrainingSession;
  private readonly inner: tf.Optimizer;

  constructor(inner: tf.Optimizer, options: SessionOptions | TrainingSession = {}) {
    super();
    this.inner = inner;
    this.session = options instanceof TrainingSession ? options : new TrainingSession(inner, options);
  }

  /** Telemetry of the session. */
  get telemetry(): Telemetry {
    return this.session.telemetry;
  }

  /** Update count of the wrapped optimizer. */
  override get iterations(): number {
    return this.inner.iterations;
  }

  /** Makes each output of `model` an objective inside `fit`. */
  attachModel(model: LayersModel): this {
    this.session.attachModel(model);
    return this;
  }

  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    return this.session.minimize(f, returnCost, varList);
  }

  /** Runs the hooks on caller-computed gradients as one objective, then applies them. */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.session.applyGradients(variableGradients);
  }

  /** Returns the object a plugin offers to user code; see `TrainingSession.plugin`. */
  plugin<T = unknown>(name: string): T | undefined {
    return this.session.plugin<T>(name);
  }

  /** Runs one custom-loop step; see `TrainingSession.step`. */
  step(
    objectives: Readonly<Record<string, (() => tf.Scalar) | ObjectiveSource>>,
    options: { variables?: readonly tf.Variable[] } = {},
  ): StepResult {
    return this.session.step(objectives, options);
  }

  /** Applies gradients plugins hold back; see `TrainingSession.flush`. */
  flush(options: { variables?: readonly tf.Variable[] } = {}): StepResult {
    return this.session.flush(options);
  }

  /** Saves the session and optimizer state; see `TrainingSession.saveCheckpoint`. */
  saveCheckpoint(options: { optimizer?: boolean; variables?: readonly tf.Variable[] } = {}): Promise<SessionCheckpoint> {
    return this.session.saveCheckpoint(options);
  }

  /** Restores a checkpoint; see `TrainingSession.loadCheckpoint`. */
  loadCheckpoint(checkpoint: SessionCheckpoint, options: { variables?: readonly tf.Variable[] } = {}): Promise<void> {
    return this.session.loadCheckpoint(checkpoint, options);
  }

  /** Returns the wrapped optimizer. */
  unwrap(): tf.Optimizer {
    return this.inner;
  }

  override getClassName(): string {
    return this.inner.getClassName();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.inner.getConfig();
  }

  override getWeights(): Promise<NamedTensor[]> {
    return this.inner.getWeights();
  }

  /**
   * Sets the wrapped optimizer's weights, as tfjs model loading does. Adam's
   * beta powers, which tfjs recomputes with `pow`, are recomputed here the way
   * training accumulates them, so the next update matches bit for bit.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await this.inner.setWeights(weightValues);
    repairAdamPowers(this.inner);
  }

  /** Frees the session's plugin state and the wrapped optimizer's variables. */
  override dispose(): void {
    this.session.dispose();
    this.inner.dispose();
  }
}
