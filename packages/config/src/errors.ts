import { describeValue } from '@gradhooks/core';

/** Error codes of the config loader, sorted by name. */
export const ConfigErrorCode = {
  ERR_CONFIG_FILE_UNREADABLE: 'ERR_CONFIG_FILE_UNREADABLE',
  ERR_CONFIG_INVALID: 'ERR_CONFIG_INVALID',
  ERR_CONFIG_JSON_INVALID: 'ERR_CONFIG_JSON_INVALID',
  ERR_CONFIG_OBJECTIVE_UNKNOWN: 'ERR_CONFIG_OBJECTIVE_UNKNOWN',
  ERR_CONFIG_OPTION_INVALID: 'ERR_CONFIG_OPTION_INVALID',
  ERR_CONFIG_PLUGIN_CONFLICT: 'ERR_CONFIG_PLUGIN_CONFLICT',
  ERR_CONFIG_PLUGIN_LOAD_FAILED: 'ERR_CONFIG_PLUGIN_LOAD_FAILED',
  ERR_CONFIG_PLUGIN_UNKNOWN: 'ERR_CONFIG_PLUGIN_UNKNOWN',
} as const;

export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

/** One problem in a config, with everything needed to find and fix it. */
export interface ConfigIssue {
  code: ConfigErrorCode;
  /** Config file, or `<inline config>` for objects built in code. */
  file: string;
  /** JSON pointer of the bad value, for example `/plugins/1/options/maxNorm`. */
  path: string;
  /** The value found there (undefined when missing). */
  received: unknown;
  /** What is allowed there. */
  expected: string;
  /** What to change. */
  fix: string;
  /** Plugin the value belongs to, when it belongs to one. */
  plugin?: string;
  /** The issue as one sentence. */
  message: string;
}

/** Builds an issue and its message from its fields. */
export function issue(fields: Omit<ConfigIssue, 'message'>): ConfigIssue {
  const received = fields.received === undefined ? 'nothing' : describeValue(fields.received);
  const owner = fields.plugin === undefined ? '' : ` (plugin '${fields.plugin}')`;
  const message = `${fields.file}: ${fields.path || '/'}${owner}: received ${received}, expected ${fields.expected}. ${fields.fix}`;
  return { ...fields, message };
}

/**
 * Raised when a config cannot be used. `issues` lists every problem found;
 * the error's own fields repeat the first one, and the message lists all.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly file: string;
  readonly path: string;
  readonly received: unknown;
  readonly expected: string;
  readonly fix: string;
  readonly plugin?: string;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const first = issues[0]!;
    const heading = issues.length === 1 ? 'Invalid gradhooks config' : `Invalid gradhooks config (${issues.length} problems)`;
    super(`${heading}:\n${issues.map((entry) => `- ${entry.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.code = first.code;
    this.file = first.file;
    this.path = first.path;
    this.received = first.received;
    this.expected = first.expected;
    this.fix = first.fix;
    this.plugin = first.plugin;
    this.issues = issues;
  }
}
