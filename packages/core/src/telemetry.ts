import { EventEmitter } from 'eventemitter3';

/** Fields every telemetry event carries. */
export interface EventBase {
  /** Optimizer steps applied before the step that emitted the event. */
  step: number;
  /** Plugin that emitted the event; absent for events of the session itself. */
  plugin?: string;
}

/** Summary of one call of the training step, emitted whether or not it applied. */
export interface StepEvent extends EventBase {
  /** Number of step calls so far, skipped ones included (starts at 1). */
  call: number;
  applied: boolean;
  /** Reason of the skip, when the step was skipped. */
  skipReason?: string;
  objectives: string[];
  /** Loss of each objective; present on reporting steps only, because reading it synchronizes. */
  losses?: Record<string, number>;
  /** Wall time of the step in milliseconds. */
  durationMs: number;
  /** Milliseconds spent in each plugin's taps during this step. */
  pluginMs: Record<string, number>;
}

/** Pairwise relation of the objective gradients, as aggregators see them. */
export interface ConflictEvent extends EventBase {
  objectives: string[];
  /** K×K Gramian of the objective gradients over the variables the plugin covers. */
  gramian: number[][];
  /** K×K cosine similarities; a pair involving a zero gradient has cosine 0. */
  cosines: number[][];
  /** Number of pairs with a strictly negative dot product. */
  conflicts: number;
  /** Weights the aggregator gave each objective, where it computes weights. */
  weights?: number[];
}

/** One projection of an objective gradient away from another. */
export interface ProjectionEvent extends EventBase {
  objective: string;
  onto: string;
  /** Coefficient removed along `onto`: <g, g_onto> / |g_onto|^2. */
  coefficient: number;
}

/** Result of a clipping plugin on one step. */
export interface ClipEvent extends EventBase {
  normBefore: number;
  normAfter: number;
  clipped: boolean;
  nonFiniteDetected: boolean;
}

/** A step skipped by a plugin or by core. */
export interface SkipEvent extends EventBase {
  reason: string;
}

/** Quantizer scales frozen for a window (GAQAT). */
export interface FreezeEvent extends EventBase {
  layer: string;
  disorder: number;
  frozen: boolean;
}

/** Change a plugin in dry-run mode would have made. */
export interface DryRunEvent extends EventBase {
  hook: string;
  /** |after - before| / |before| over the gradients the tap would have changed. */
  relativeChange?: number;
  /** Skip reason the tap would have produced. */
  wouldSkip?: string;
}

/** Plugin state changes worth plotting (EMA norms, accumulator counts, streaks). */
export interface StateEvent extends EventBase {
  values: Record<string, number | string | boolean>;
}

/** A step that failed with an error; nothing was applied. */
export interface ErrorEvent extends EventBase {
  code?: string;
  hook?: string;
  message: string;
}

/**
 * A measurement the training program publishes itself, such as accuracy per
 * objective after each epoch, so reports can plot it next to the session's events.
 */
export interface MetricEvent {
  /** Optimizer steps applied when the value was measured. */
  step: number;
  /** Metric name, for example `accuracy` or `loss`. */
  name: string;
  value: number;
  /** Objective the value belongs to, when it belongs to one. */
  objective?: string;
  /** Data the value was measured on. */
  split?: 'train' | 'validation' | 'test';
  epoch?: number;
}

/** Resolved options of each plugin, emitted once when the session starts. */
export interface SessionEvent {
  plugins: Array<{ name: string; options: Record<string, unknown> }>;
  objectives: string[];
  level: string;
}

/**
 * Telemetry events by name. Third-party plugins add their own events by
 * augmenting this interface (declaration merging).
 */
export interface TelemetryEventMap {
  session: SessionEvent;
  step: StepEvent;
  conflict: ConflictEvent;
  projection: ProjectionEvent;
  clip: ClipEvent;
  skip: SkipEvent;
  freeze: FreezeEvent;
  dryRun: DryRunEvent;
  state: StateEvent;
  error: ErrorEvent;
  metric: MetricEvent;
}

export type TelemetryEventName = keyof TelemetryEventMap;

type ListenerMap = { [K in TelemetryEventName]: [payload: TelemetryEventMap[K]] } & {
  '*': [event: TelemetryEventName, payload: TelemetryEventMap[TelemetryEventName]];
};

/**
 * Typed event emitter that carries the session's telemetry to sinks. Every
 * event is emitted under its own name and under `'*'`, which sinks use to
 * receive all events, including those that third-party plugins add.
 */
export class Telemetry extends EventEmitter<ListenerMap> {
  /** Emits `payload` under `event` and under `'*'`. */
  publish<K extends TelemetryEventName>(event: K, payload: TelemetryEventMap[K]): void {
    (this.emit as (name: string, ...args: unknown[]) => boolean)(event, payload);
    this.emit('*', event, payload as TelemetryEventMap[TelemetryEventName]);
  }

  /** Subscribes one listener to every event; returns a function that unsubscribes it. */
  onAny(listener: (event: TelemetryEventName, payload: TelemetryEventMap[TelemetryEventName]) => void): () => void {
    this.on('*', listener);
    return () => {
      this.off('*', listener);
    };
  }

  /** Reports whether anything listens, so producers can skip work whose result no listener reads. */
  hasListeners(): boolean {
    return this.eventNames().length > 0;
  }
}
