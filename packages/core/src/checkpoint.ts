import type { JsonValue } from './options.js';
import type { OptimizerStateSnapshot } from './optimizerState.js';
import type { EncodedTensor } from './tensorCodec.js';

/** Format tag of session checkpoints. */
export const CHECKPOINT_FORMAT = 'gradhooks.checkpoint';
/** Current checkpoint version; loading rejects other versions. */
export const CHECKPOINT_VERSION = 1;

/** Saved state of one plugin instance. */
export interface PluginCheckpoint {
  name: string;
  /** Resolved options when saved; loading warns when they differ. */
  options: Record<string, unknown>;
  state: JsonValue | null;
  /** State of the plugin's seeded generator. */
  random: number[];
}

/**
 * Everything a session needs to continue a run exactly: step counters,
 * plugin state and generators, the wrapped optimizer's state and, when asked
 * for, variable values. Plain JSON; tensors are base64 of their raw bytes.
 */
export interface SessionCheckpoint {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Optimizer steps applied. */
  applied: number;
  /** Step calls, skipped ones included. */
  calls: number;
  plugins: PluginCheckpoint[];
  optimizer: OptimizerStateSnapshot | null;
  variables: Record<string, EncodedTensor> | null;
}
