import { resolve as resolvePath } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';

import { ConfigError, loadConfig } from '@gradhooks/config';
import type { PluginRegistry, ResolvedConfig } from '@gradhooks/config';
import type { Logger } from '@gradhooks/core';
import { selectBackend } from '@gradhooks/core/node';

import { problemFromSessionError } from '../problems.js';
import type { ConfigProblem } from '../problems.js';

/** Outcome of `validateConfig`. */
export interface ValidationResult {
  /** Absolute path of the config file. */
  file: string;
  valid: boolean;
  /** Every problem found, in the config loader's form. Empty when valid. */
  problems: ConfigProblem[];
  /** Plugin names of the config, in order; empty when the config did not load. */
  plugins: string[];
  /** Checks that could not run, such as creating the plugins without a TensorFlow.js backend. */
  warnings: string[];
}

/** Options of `validateConfig`. */
export interface ValidateOptions {
  /** Registry that resolves `use` names; defaults to the built-in plugins. */
  registry?: PluginRegistry;
  /**
   * Also create each plugin in a session, as training does, which finds
   * problems that only `create()` reports (an unknown hook name, a failing
   * create, conflicting plugins). Default true; needs a TensorFlow.js backend.
   */
  createPlugins?: boolean;
}

/**
 * Loads a config file as training would and collects every problem. The
 * config loader checks JSON syntax, keys, plugin names, options and
 * combinations first. When those pass, each plugin is created in a training
 * session on an SGD optimizer with learning rate 0. Problems with the config
 * are returned; only unexpected failures (a bug, a disk error) are thrown.
 */
export async function validateConfig(path: string, options: ValidateOptions = {}): Promise<ValidationResult> {
  const file = resolvePath(path);
  let config: ResolvedConfig;
  try {
    config = await loadConfig(file, options.registry === undefined ? {} : { registry: options.registry });
  } catch (error) {
    if (error instanceof ConfigError) {
      return { file, valid: false, problems: error.issues.map((issue) => ({ ...issue })), plugins: [], warnings: [] };
    }
    throw error;
  }
  const plugins = config.plugins.map((spec) => spec.definition.name);
  const warnings: string[] = [];
  const problems: ConfigProblem[] = [];
  if (options.createPlugins ?? true) {
    const backend = await ensureBackend();
    if (backend === undefined) {
      problems.push(...createPluginProblems(config, plugins, warnings));
    } else {
      warnings.push(`The plugins were not created, so problems that only their create() reports were not checked: ${backend}`);
    }
  }
  return { file, valid: problems.length === 0, problems, plugins, warnings };
}

/**
 * Creates the config's plugins in a session, as `config.createOptimizer`
 * does for training, and disposes them. Warnings the plugins log while they
 * are created are added to `warnings`.
 */
function createPluginProblems(config: ResolvedConfig, plugins: readonly string[], warnings: string[]): ConfigProblem[] {
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message) => void warnings.push(message),
    error: (message) => void warnings.push(message),
  };
  const inner = tf.train.sgd(0);
  try {
    const optimizer = config.createOptimizer(inner, { logger });
    optimizer.dispose();
    return [];
  } catch (error) {
    inner.dispose();
    return [problemFromSessionError(error, config.file, plugins)];
  }
}

/** Activates a backend when none is active. Returns undefined on success, or why none could be loaded. */
async function ensureBackend(): Promise<string | undefined> {
  const engine = tf.engine() as unknown as { backendName?: string | null };
  if (engine.backendName != null) {
    return undefined;
  }
  try {
    await selectBackend({ quiet: true });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Formats a result for the terminal: one line per problem or warning, then a summary line. */
export function formatValidation(result: ValidationResult): string {
  const lines = [...result.problems.map((entry) => entry.message), ...result.warnings.map((warning) => `warning: ${warning}`)];
  if (result.valid) {
    const plugins = result.plugins.length === 0 ? 'no plugins' : `${result.plugins.length} plugin(s): ${result.plugins.join(', ')}`;
    lines.push(`${result.file}: valid (${plugins})`);
  } else {
    lines.push(`${result.file}: ${result.problems.length} problem(s)`);
  }
  return lines.join('\n');
}

/** Returns the JSON form of a result, for programs: problems keep the loader's fields. */
export function validationJson(result: ValidationResult): Record<string, unknown> {
  return {
    file: result.file,
    valid: result.valid,
    plugins: result.plugins,
    problems: result.problems.map((entry) => ({ ...entry })),
    warnings: result.warnings,
  };
}
