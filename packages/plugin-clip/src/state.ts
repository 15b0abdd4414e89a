import { ErrorCode, GradhooksError } from '@gradhooks/core';
import type { JsonValue } from '@gradhooks/core';

/**
 * Readers of saved plugin state that check each field's JSON type, so a
 * counter that comes back as 1.5 or a flag that comes back as 1 is rejected
 * instead of silently changing the plugin's behaviour.
 */
export class StateReader {
  private readonly object: Record<string, JsonValue>;

  constructor(
    private readonly plugin: string,
    saved: JsonValue,
  ) {
    if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) {
      throw invalidState(plugin, '', saved, 'an object');
    }
    this.object = saved;
  }

  /** Returns a non-negative integer field. */
  integer(key: string): number {
    const value = this.object[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw invalidState(this.plugin, key, value, 'a non-negative integer');
    }
    return value;
  }

  /** Returns a boolean field. */
  boolean(key: string): boolean {
    const value = this.object[key];
    if (typeof value !== 'boolean') {
      throw invalidState(this.plugin, key, value, 'true or false');
    }
    return value;
  }

  /** Returns a number field, or null when `nullable` and the field is null. */
  number(key: string): number;
  number(key: string, nullable: true): number | null;
  number(key: string, nullable = false): number | null {
    const value = this.object[key];
    if (nullable && value === null) {
      return null;
    }
    if (typeof value !== 'number') {
      throw invalidState(this.plugin, key, value, nullable ? 'a number or null' : 'a number');
    }
    return value;
  }

  /** Returns an array of numbers. */
  numbers(key: string): number[] {
    const value = this.object[key];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'number')) {
      throw invalidState(this.plugin, key, value, 'an array of numbers');
    }
    return value as number[];
  }

  /** Returns an object field. */
  record(key: string): Record<string, JsonValue> {
    const value = this.object[key];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw invalidState(this.plugin, key, value, 'an object');
    }
    return value;
  }
}

/** Builds the error for saved state that does not have the expected form. */
export function invalidState(plugin: string, key: string, received: unknown, expected: string): GradhooksError {
  return new GradhooksError(
    ErrorCode.ERR_PLUGIN_STATE_INVALID,
    `The saved state of plugin '${plugin}' is invalid${key === '' ? '' : ` at '${key}'`}: expected ${expected}.`,
    {
      plugin,
      path: key === '' ? '' : `/${key}`,
      received,
      expected,
      fix: 'Load a checkpoint written by the same plugin version, unmodified.',
    },
  );
}
