/**
 * The facts a report needs from one run's telemetry, collected event by event
 * so that a JSONL file of any length is read once and never held in memory.
 */

/** A point of a series: x (a step or call number) and its value, null where it is not finite. */
export type Point = [x: number, y: number | null];

/** Resolved options of one plugin, from the `session` event. */
export interface SessionPlugin {
  name: string;
  options: Record<string, unknown>;
}

export interface SessionInfo {
  plugins: SessionPlugin[];
  objectives: string[];
  level: string;
}

export interface ConflictSeries {
  objectives: string[];
  /** One series per pair (i < j) of objectives: their cosine per reported step. */
  cosines: Map<string, Point[]>;
  /** Per reported step: 1 when at least one pair has a negative dot product, else 0. */
  conflicted: Array<[step: number, conflicted: number]>;
  /** One series per objective: the weight the aggregator gave it. */
  weights: Map<string, Point[]>;
}

export interface ClipSeries {
  normBefore: Point[];
  normAfter: Point[];
  /** Per reported step: 1 when clipped, else 0. */
  clipped: Array<[step: number, clipped: number]>;
  nonFiniteSteps: number;
}

export interface SkipRecord {
  step: number;
  plugin: string | undefined;
  reason: string;
}

export interface FreezeRecord {
  step: number;
  layer: string;
  disorder: number | null;
  frozen: boolean;
}

export interface DryRunSeries {
  plugin: string;
  hook: string;
  relativeChange: Point[];
  /** Skip reasons the tap would have produced, with their counts. */
  wouldSkip: Map<string, number>;
}

export interface ErrorRecord {
  step: number | undefined;
  plugin: string | undefined;
  hook: string | undefined;
  code: string | undefined;
  message: string;
}

/** Everything collected from one run. */
export interface RunData {
  /** Lines read, blank ones included. */
  lines: number;
  /** Events accepted. */
  events: number;
  /** Lines that were not a JSON object with an `event` name, with the first few reasons. */
  rejected: { count: number; examples: string[] };
  /** Count of each event name, including names that the report does not plot. */
  eventCounts: Map<string, number>;
  firstTime: number | undefined;
  lastTime: number | undefined;
  sessions: SessionInfo[];
  calls: { total: number; applied: number; skipped: number };
  /** Per step call: whether it applied, for the skipped-steps chart. */
  applied: Array<[call: number, applied: number]>;
  /** Per step call: wall time in ms and milliseconds per plugin. */
  durations: Point[];
  pluginMs: Map<string, Point[]>;
  /** Loss per objective on reporting steps. */
  losses: Map<string, Point[]>;
  /** Metric name to series label (objective and split) to points. */
  metrics: Map<string, Map<string, Point[]>>;
  /** Conflict series per plugin. */
  conflicts: Map<string, ConflictSeries>;
  /** Projection count per plugin and pair ("left onto right"). */
  projections: Map<string, Map<string, { count: number; coefficientSum: number }>>;
  clips: Map<string, ClipSeries>;
  skips: SkipRecord[];
  freezes: { plugins: Set<string>; records: FreezeRecord[] };
  dryRuns: Map<string, DryRunSeries>;
  /** Numeric plugin state per plugin and key, booleans as 0 and 1; the last text value per key. */
  states: Map<string, { numbers: Map<string, Point[]>; texts: Map<string, string> }>;
  errors: ErrorRecord[];
  /** Non-finite values that charts leave out, by chart subject. */
  nonFinite: Map<string, number>;
}

export function emptyRunData(): RunData {
  return {
    lines: 0,
    events: 0,
    rejected: { count: 0, examples: [] },
    eventCounts: new Map(),
    firstTime: undefined,
    lastTime: undefined,
    sessions: [],
    calls: { total: 0, applied: 0, skipped: 0 },
    applied: [],
    durations: [],
    pluginMs: new Map(),
    losses: new Map(),
    metrics: new Map(),
    conflicts: new Map(),
    projections: new Map(),
    clips: new Map(),
    skips: [],
    freezes: { plugins: new Set(), records: [] },
    dryRuns: new Map(),
    states: new Map(),
    errors: [],
    nonFinite: new Map(),
  };
}
