import { issue } from '@gradhooks/config';
import type { ConfigIssue } from '@gradhooks/config';
import { GradhooksError } from '@gradhooks/core';

/**
 * One problem with a config, in the config loader's form: the file, the
 * JSON path, the value received, what is allowed and the fix. `code` is a
 * `ConfigErrorCode`, or a core `ErrorCode` for problems found while the
 * plugins were created.
 */
export interface ConfigProblem {
  code: string;
  file: string;
  path: string;
  received: unknown;
  expected: string;
  fix: string;
  plugin?: string;
  message: string;
}

/** Builds the problem and its message with the config loader's own `issue`, so both read the same. */
export function problem(fields: Omit<ConfigProblem, 'message'>): ConfigProblem {
  return issue(fields as Omit<ConfigIssue, 'message'>);
}

/**
 * Turns an error raised while a session created the config's plugins into a
 * problem located at the config entry of the plugin it names.
 * `pluginNames` are the config's plugin names in order; the session calls a
 * repeated plugin `name#2`, `name#3`, ...
 */
export function problemFromSessionError(error: unknown, file: string, pluginNames: readonly string[]): ConfigProblem {
  if (!(error instanceof GradhooksError)) {
    return problem({
      code: 'ERR_PLUGIN_FAILED',
      file,
      path: '/plugins',
      received: error instanceof Error ? error.message : String(error),
      expected: 'plugins that can be created',
      fix: 'See the message; it came from a plugin outside gradhooks.',
    });
  }
  const index = error.plugin === undefined ? -1 : entryIndex(error.plugin, pluginNames);
  const path = index < 0 ? (error.path ?? '') : `/plugins/${index}/use`;
  return problem({
    code: error.code,
    file,
    path,
    received: error.received ?? error.message,
    expected: error.expected ?? 'a plugin that can be created',
    fix: error.fix ?? 'See the plugin documentation.',
    ...(error.plugin === undefined ? {} : { plugin: error.plugin }),
  });
}

/** Finds the config entry of a session plugin name such as `pcgrad` or `pcgrad#2`. */
function entryIndex(instanceName: string, pluginNames: readonly string[]): number {
  const match = /^(.*)#(\d+)$/.exec(instanceName);
  const name = match === null ? instanceName : match[1]!;
  const occurrence = match === null ? 1 : Number(match[2]);
  let seen = 0;
  for (const [index, candidate] of pluginNames.entries()) {
    if (candidate === name) {
      seen += 1;
      if (seen === occurrence) {
        return index;
      }
    }
  }
  return -1;
}
