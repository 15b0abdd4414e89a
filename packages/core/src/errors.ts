/**
 * Error codes raised by @gradhooks/core, sorted by name. Each code is
 * `ERR_<AREA>_<CONDITION>` and appears in `GradhooksError.code`.
 */
export const ErrorCode = {
  ERR_CHECKPOINT_INVALID: 'ERR_CHECKPOINT_INVALID',
  ERR_FANOUT_INVALID: 'ERR_FANOUT_INVALID',
  ERR_GRADIENT_KEYS_CHANGED: 'ERR_GRADIENT_KEYS_CHANGED',
  ERR_GRADIENT_NONFINITE: 'ERR_GRADIENT_NONFINITE',
  ERR_GRADIENT_SHAPE_MISMATCH: 'ERR_GRADIENT_SHAPE_MISMATCH',
  ERR_GRADIENT_UNKNOWN_VARIABLE: 'ERR_GRADIENT_UNKNOWN_VARIABLE',
  ERR_HOOK_UNKNOWN: 'ERR_HOOK_UNKNOWN',
  ERR_OBJECTIVE_INVALID: 'ERR_OBJECTIVE_INVALID',
  ERR_OBJECTIVE_MISMATCH: 'ERR_OBJECTIVE_MISMATCH',
  ERR_OPTIMIZER_STATE_UNSUPPORTED: 'ERR_OPTIMIZER_STATE_UNSUPPORTED',
  ERR_OPTIONS_INVALID: 'ERR_OPTIONS_INVALID',
  ERR_PLUGIN_CONFLICT: 'ERR_PLUGIN_CONFLICT',
  ERR_PLUGIN_DEFINITION_INVALID: 'ERR_PLUGIN_DEFINITION_INVALID',
  ERR_PLUGIN_FAILED: 'ERR_PLUGIN_FAILED',
  ERR_PLUGIN_LEAK: 'ERR_PLUGIN_LEAK',
  ERR_PLUGIN_STATE_INVALID: 'ERR_PLUGIN_STATE_INVALID',
  ERR_SESSION_DISPOSED: 'ERR_SESSION_DISPOSED',
  ERR_STEP_REENTERED: 'ERR_STEP_REENTERED',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Structured details carried by every gradhooks error, next to its message. */
export interface ErrorDetails {
  /** Plugin name, when a plugin caused the error. */
  plugin?: string;
  /** Hook name, when the error happened inside a tap. */
  hook?: string;
  /** Config file or other source that held the bad value. */
  file?: string;
  /** JSON path of the bad value, for example `/plugins/0/options/maxNorm`. */
  path?: string;
  /** The value that was received. */
  received?: unknown;
  /** Description of the values that are accepted. */
  expected?: string;
  /** Change that fixes the problem. */
  fix?: string;
  /** Variable name, for gradient errors. */
  variable?: string;
  /** The error that caused this one. */
  cause?: unknown;
}

/**
 * Error type of every failure gradhooks raises on purpose. The message is
 * complete on its own; the same facts are available as fields for programs.
 */
export class GradhooksError extends Error {
  readonly code: ErrorCode;
  readonly plugin?: string;
  readonly hook?: string;
  readonly file?: string;
  readonly path?: string;
  readonly received?: unknown;
  readonly expected?: string;
  readonly fix?: string;
  readonly variable?: string;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    // The fix is part of the message too, so a printed stack trace shows it.
    const withFix = details.fix === undefined || message.includes(details.fix) ? message : `${message} ${details.fix}`;
    super(withFix, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'GradhooksError';
    this.code = code;
    this.plugin = details.plugin;
    this.hook = details.hook;
    this.file = details.file;
    this.path = details.path;
    this.received = details.received;
    this.expected = details.expected;
    this.fix = details.fix;
    this.variable = details.variable;
  }
}

/** Formats a value for an error message: JSON where possible, cut at 80 characters. */
export function describeValue(value: unknown): string {
  let text: string;
  if (value === undefined) {
    text = 'undefined';
  } else if (typeof value === 'number' && !Number.isFinite(value)) {
    text = String(value);
  } else if (typeof value === 'function') {
    text = `function ${value.name || '(anonymous)'}`;
  } else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
