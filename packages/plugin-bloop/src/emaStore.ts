import type * as tf from '@tensorflow/tfjs-core';

import { decodeTensor, encodeTensor, ErrorCode, GradhooksError, TensorState } from '@gradhooks/core';
import type { EncodedTensor, JsonValue, StepContext } from '@gradhooks/core';

/**
 * Per-variable EMA tensors that advance transactionally: a step stages the
 * new value of each variable, and the session adopts it only when the
 * optimizer applies the step (see `TensorState`).
 */
export class EmaStore {
  private readonly entries = new Map<string, TensorState>();

  /** Committed EMA of a variable, or null before its first committed step. */
  current(name: string): tf.Tensor | null {
    return this.entries.get(name)?.current ?? null;
  }

  /** Stages `value` as the EMA of `name` after this step commits; takes ownership of `value`. */
  stage(step: StepContext, name: string, value: tf.Tensor): void {
    let entry = this.entries.get(name);
    if (entry === undefined) {
      entry = new TensorState();
      this.entries.set(name, entry);
    }
    entry.stage(step, value);
  }

  /** Encodes every committed EMA, keyed by variable name, bit for bit. */
  save(): Record<string, JsonValue> {
    const saved: Record<string, JsonValue> = {};
    for (const [name, entry] of this.entries) {
      if (entry.current !== null) {
        saved[name] = encodeTensor(entry.current) as unknown as JsonValue;
      }
    }
    return saved;
  }

  /** Replaces every EMA with the decoded `saved` entries; variables absent from `saved` start again from their initialisation. */
  load(saved: Record<string, JsonValue>): void {
    const decoded = new Map<string, tf.Tensor>();
    try {
      for (const [name, encoded] of Object.entries(saved)) {
        decoded.set(name, decodeTensor(encoded as unknown as EncodedTensor));
      }
    } catch (error) {
      decoded.forEach((tensor) => tensor.dispose());
      throw error;
    }
    this.dispose();
    for (const [name, tensor] of decoded) {
      const entry = new TensorState();
      entry.set(tensor);
      this.entries.set(name, entry);
    }
  }

  /** Frees every EMA tensor. */
  dispose(): void {
    this.entries.forEach((entry) => entry.dispose());
    this.entries.clear();
  }
}

/** Saved form of the plugin state. */
export interface SavedEmas {
  format: string;
  version: number;
  main: Record<string, JsonValue>;
  auxiliary: Record<string, JsonValue>;
}

/** Checks the shape of a saved state before any tensor is decoded; throws ERR_PLUGIN_STATE_INVALID. */
export function checkSavedEmas(saved: JsonValue, plugin: string, format: string, version: number): SavedEmas {
  const isRecord = (value: unknown): value is Record<string, JsonValue> => typeof value === 'object' && value !== null && !Array.isArray(value);
  const valid =
    isRecord(saved) && saved['format'] === format && saved['version'] === version && isRecord(saved['main']) && isRecord(saved['auxiliary']);
  if (!valid) {
    throw new GradhooksError(ErrorCode.ERR_PLUGIN_STATE_INVALID, `Plugin '${plugin}' cannot load this state: it is not a version ${version} '${format}' state.`, {
      plugin,
      received: isRecord(saved) ? Object.keys(saved) : saved,
      expected: `{ format: '${format}', version: ${version}, main: {...}, auxiliary: {...} }`,
      fix: 'Load a checkpoint written by the same plugin version, unmodified.',
    });
  }
  return saved as unknown as SavedEmas;
}
