import type { HookBus } from './HookBus.js';
import type { StepContext } from './StepContext.js';

/** The step a session is running, as the fan-out op's backward pass needs it. */
export interface ActiveStep {
  readonly step: StepContext;
  readonly bus: HookBus;
  /** Logs `message` as a warning the first time `key` is seen in this session. */
  warnOnce(key: string, message: string): void;
}

let active: ActiveStep | null = null;

/** Returns the step in progress, or null outside a session step. */
export function currentStep(): ActiveStep | null {
  return active;
}

/** Runs `fn` with `step` as the step in progress, restoring the previous one afterwards. */
export function withActiveStep<T>(step: ActiveStep, fn: () => T): T {
  const previous = active;
  active = step;
  try {
    return fn();
  } finally {
    active = previous;
  }
}
