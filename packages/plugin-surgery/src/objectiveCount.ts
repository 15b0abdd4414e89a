import { ErrorCode, GradhooksError } from '@gradhooks/core';

/** Throws when an aggregator that needs at least `minimum` objectives gets fewer. */
export function requireObjectives(plugin: string, count: number, minimum: number, reason: string, fix: string): void {
  if (count < minimum) {
    throw new GradhooksError(ErrorCode.ERR_OBJECTIVE_MISMATCH, `Plugin '${plugin}' needs at least ${minimum} objectives (${reason}) but the step has ${count}.`, {
      plugin,
      received: count,
      expected: `at least ${minimum} objectives`,
      fix,
    });
  }
}
