import { ErrorCode, GradhooksError } from '@gradhooks/core';
import type { JsonValue } from '@gradhooks/core';

import { decideFreeze } from './math/disorder.js';
import type { FreezeDecision, FreezeRule } from './math/disorder.js';

/**
 * Window of one quantizer scale variable. A unit is the whole scale, or one
 * channel of a per-channel scale read channel by channel.
 */
export interface ScaleWindowState {
  /** Units of the scale: 1, or its number of channels. */
  readonly units: number;
  /** Task-gradient value of each unit, one row per step of the current window. */
  readonly task: readonly (readonly number[])[];
  /** Task·smoothness dot product of each unit, one row per step of the current window. */
  readonly dots: readonly (readonly number[])[];
  /** Units whose chosen gradient component is dropped during the current window. */
  readonly frozen: readonly boolean[];
}

/** One step's readings of a scale: a value per unit. */
export interface ScaleReading {
  task: number[];
  dots: number[];
}

/** The state after a step, and the decisions when that step closed a window. */
export interface WindowAdvance {
  next: ScaleWindowState;
  decisions?: FreezeDecision[];
}

/**
 * Appends one step's readings to a scale's window. When the window reaches
 * `length` steps, the freeze rule decides every unit for the next window and
 * the window starts empty. A scale seen for the first time, or whose number
 * of units changed, starts a new window with nothing frozen. Pure: the
 * previous state is not modified.
 */
export function advanceWindow(previous: ScaleWindowState | undefined, reading: ScaleReading, length: number, rule: FreezeRule): WindowAdvance {
  const units = reading.task.length;
  const base: ScaleWindowState =
    previous !== undefined && previous.units === units ? previous : { units, task: [], dots: [], frozen: new Array<boolean>(units).fill(false) };
  const task = [...base.task, [...reading.task]];
  const dots = [...base.dots, [...reading.dots]];
  if (task.length < length) {
    return { next: { units, task, dots, frozen: base.frozen } };
  }
  const decisions = Array.from({ length: units }, (_, unit) =>
    decideFreeze({ task: task.map((row) => row[unit]!), dots: dots.map((row) => row[unit]!) }, rule),
  );
  return { next: { units, task: [], dots: [], frozen: decisions.map((decision) => decision.frozen) }, decisions };
}

const STATE_FORMAT = 'gradhooks-gaqat-windows';
const STATE_VERSION = 1;

/** Writes a number so JSON keeps it exactly; NaN and infinities become strings, as in the specification's JSON. */
function encodeNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

function decodeNumber(value: unknown): number {
  if (typeof value === 'number') {
    return value;
  }
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') {
    return Number(value);
  }
  throw new TypeError(`expected a number or "NaN", "Infinity", "-Infinity", received ${JSON.stringify(value)}`);
}

/** Encodes every scale's window as JSON that decodes to the same numbers bit for bit. */
export function encodeWindows(windows: ReadonlyMap<string, ScaleWindowState>): JsonValue {
  const scales: Record<string, JsonValue> = {};
  for (const [name, state] of windows) {
    scales[name] = {
      units: state.units,
      task: state.task.map((row) => row.map(encodeNumber)),
      dots: state.dots.map((row) => row.map(encodeNumber)),
      frozen: [...state.frozen],
    };
  }
  return { format: STATE_FORMAT, version: STATE_VERSION, scales };
}

/** Decodes `encodeWindows` output, checking its shape; throws ERR_PLUGIN_STATE_INVALID on anything else. */
export function decodeWindows(saved: JsonValue, plugin: string): Map<string, ScaleWindowState> {
  const fail = (reason: string): never => {
    throw new GradhooksError(ErrorCode.ERR_PLUGIN_STATE_INVALID, `Plugin '${plugin}' could not load its saved windows: ${reason}.`, {
      plugin,
      received: typeof saved === 'object' && saved !== null ? Object.keys(saved) : saved,
      expected: `an object with format '${STATE_FORMAT}' and version ${STATE_VERSION}`,
      fix: 'Load a checkpoint written by the same plugin version, unmodified.',
    });
  };
  const record = saved as { format?: unknown; version?: unknown; scales?: unknown } | null;
  if (record === null || typeof record !== 'object' || record.format !== STATE_FORMAT || record.version !== STATE_VERSION) {
    return fail('unknown format or version');
  }
  if (record.scales === null || typeof record.scales !== 'object' || Array.isArray(record.scales)) {
    return fail("'scales' is not an object");
  }
  const windows = new Map<string, ScaleWindowState>();
  for (const [name, value] of Object.entries(record.scales as Record<string, unknown>)) {
    const entry = value as { units?: unknown; task?: unknown; dots?: unknown; frozen?: unknown };
    const units = entry.units;
    if (typeof units !== 'number' || !Number.isInteger(units) || units < 1) {
      return fail(`scale '${name}' has no valid unit count`);
    }
    const rows = (field: unknown): number[][] => {
      if (!Array.isArray(field) || field.some((row) => !Array.isArray(row) || row.length !== units)) {
        return fail(`scale '${name}' has rows that do not hold ${units} values`);
      }
      try {
        return field.map((row: unknown[]) => row.map(decodeNumber));
      } catch (error) {
        return fail(`scale '${name}': ${(error as Error).message}`);
      }
    };
    const task = rows(entry.task);
    const dots = rows(entry.dots);
    const frozen = entry.frozen;
    if (task.length !== dots.length || !Array.isArray(frozen) || frozen.length !== units || frozen.some((flag) => typeof flag !== 'boolean')) {
      return fail(`scale '${name}' has inconsistent window fields`);
    }
    windows.set(name, { units, task, dots, frozen: frozen as boolean[] });
  }
  return windows;
}
