import type * as tf from '@tensorflow/tfjs-core';

import type { Logger } from './logger.js';
import type { TelemetryEventMap, TelemetryEventName } from './telemetry.js';

/** Gradient level a session works at; see `SessionOptions.level`. */
export type GradientLevel = 'parameter' | 'representation';

/** Options of `StepContext.skip`. */
export interface SkipOptions {
  /**
   * State change to keep although the step is skipped. Only the plugin that
   * skips may use it, for state that exists to count skipped steps (a
   * non-finite streak, an accumulation window).
   */
  commit?: () => void;
}

/**
 * Thrown by `StepContext.skip` to stop the step. It is not an `Error`, so the
 * usual `catch (e) { if (e instanceof Error) ... }` in a plugin does not swallow it.
 */
export class StepSkip {
  plugin?: string;
  constructor(
    readonly reason: string,
    readonly commit?: () => void,
  ) {}
}

type PendingEvent = { [K in TelemetryEventName]: [K, TelemetryEventMap[K]] }[TelemetryEventName];

/**
 * The step in progress, as every tap receives it. It also collects the
 * state changes plugins stage: `onCommit` callbacks run only after the
 * optimizer has applied the update, `onAbort` callbacks only when the step
 * was skipped or failed.
 */
export class StepContext {
  /** Optimizer steps applied before this one; the index of the update this step would make. */
  readonly index: number;
  /** Number of step calls so far, skipped ones included (starts at 1). */
  readonly call: number;
  readonly level: GradientLevel;
  /** Trainable variables in the optimizer's order. */
  readonly variables: readonly tf.Variable[];
  /** Names of `variables`, in the same order. */
  readonly variableNames: readonly string[];
  /**
   * True on steps that report telemetry (every `telemetry.every` steps, when
   * something listens). Taps compute numbers that need a device read only then.
   */
  readonly report: boolean;
  /**
   * True on a flush step (`session.flush()`): it has no objectives of its own,
   * and plugins holding gradients back (an accumulation window) release them now.
   */
  readonly flushing: boolean;
  readonly logger: Logger;
  /** Plugin whose tap runs now; set by the bus. */
  currentPlugin: string | undefined;

  private objectiveNames: readonly string[] = [];
  private readonly commits: Array<() => void> = [];
  private readonly aborts: Array<() => void> = [];
  private readonly events: PendingEvent[] = [];
  private readonly lossValues: Record<string, tf.Scalar> = {};
  private readonly pluginTimes: Record<string, number> = {};
  private readonly fanOutRuns = new Map<string, number>();
  private shapes: Map<string, readonly number[]> | undefined;

  constructor(init: {
    index: number;
    call: number;
    level: GradientLevel;
    variables: readonly tf.Variable[];
    report: boolean;
    flushing?: boolean;
    logger: Logger;
  }) {
    this.index = init.index;
    this.call = init.call;
    this.level = init.level;
    this.variables = init.variables;
    this.variableNames = init.variables.map((variable) => variable.name);
    this.report = init.report;
    this.flushing = init.flushing ?? false;
    this.logger = init.logger;
    this.currentPlugin = undefined;
  }

  /** Objective names of this step, in order; known once the objective sources are resolved. */
  get objectives(): readonly string[] {
    return this.objectiveNames;
  }

  /** Loss value of each objective, once its gradients are computed. Owned by the step. */
  get losses(): Readonly<Record<string, tf.Scalar>> {
    return this.lossValues;
  }

  /**
   * Stops the step: no later tap runs, the optimizer is not called, staged
   * state is discarded and the skip is reported.
   */
  skip(reason: string, options: SkipOptions = {}): never {
    throw new StepSkip(reason, options.commit);
  }

  /** Registers a state change to run after the optimizer applies this step's update. */
  onCommit(callback: () => void): void {
    this.commits.push(callback);
  }

  /** Registers cleanup to run if this step is skipped or fails. */
  onAbort(callback: () => void): void {
    this.aborts.push(callback);
  }

  /**
   * Queues a telemetry event; the session publishes queued events when the
   * step ends, applied or skipped, and drops them when it fails.
   */
  emit<K extends TelemetryEventName>(event: K, payload: Omit<TelemetryEventMap[K], 'step' | 'plugin'> & { plugin?: string }): void {
    const full = { step: this.index, plugin: payload.plugin ?? this.currentPlugin, ...payload } as unknown as TelemetryEventMap[K];
    this.events.push([event, full] as PendingEvent);
  }

  /** Returns the shape of a variable of this step, or undefined for an unknown name. */
  variableShape(name: string): readonly number[] | undefined {
    if (this.shapes === undefined) {
      this.shapes = new Map(this.variables.map((variable) => [variable.name, variable.shape]));
    }
    return this.shapes.get(name);
  }

  /** Milliseconds spent in each plugin's taps so far in this step. */
  get pluginMs(): Readonly<Record<string, number>> {
    return this.pluginTimes;
  }

  /** @internal Counts a backward run of the fan-out op named `layer` in this step and returns the count. */
  countFanOut(layer: string): number {
    const count = (this.fanOutRuns.get(layer) ?? 0) + 1;
    this.fanOutRuns.set(layer, count);
    return count;
  }

  /** @internal Adds time spent in a plugin's tap. */
  addPluginTime(plugin: string, milliseconds: number): void {
    this.pluginTimes[plugin] = (this.pluginTimes[plugin] ?? 0) + milliseconds;
  }

  /** @internal Sets the objective names once the sources are known. */
  setObjectives(names: readonly string[]): void {
    this.objectiveNames = [...names];
  }

  /** @internal Records an objective's loss value. */
  setLoss(name: string, value: tf.Scalar): void {
    this.lossValues[name] = value;
  }

  /** @internal Runs the staged commits in registration order. */
  runCommits(): void {
    for (const callback of this.commits) {
      callback();
    }
  }

  /** @internal Runs the abort callbacks in reverse registration order. */
  runAborts(): void {
    for (let i = this.aborts.length - 1; i >= 0; i--) {
      this.aborts[i]!();
    }
  }

  /** @internal Returns and clears the queued telemetry events. */
  takeEvents(): PendingEvent[] {
    return this.events.splice(0, this.events.length);
  }
}
