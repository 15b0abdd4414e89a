import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig, resolveConfig } from '@gradhooks/config';

import { GRADIENT_NOISE } from '../src/index.js';

const configPath = fileURLToPath(new URL('../gradhooks.config.json', import.meta.url));

describe('gradient-noise from a config file', () => {
  it('loads by package name', async () => {
    const config = await loadConfig(configPath);

    expect(config.plugins.map((spec) => spec.definition.name)).toEqual(['clip-global-norm', GRADIENT_NOISE]);
    expect(config.plugins[1]!.options).toEqual({ eta: 0.3, gamma: 0.55, variables: ['**'], dryRun: false });
    const optimizer = config.createOptimizer(tf.train.sgd(0.1));
    expect(optimizer.session.describe().map((plugin) => plugin.name)).toEqual(['clip-global-norm', GRADIENT_NOISE]);
    optimizer.dispose();
  });

  it('reports invalid options naming the plugin', async () => {
    const value = { plugins: [{ use: GRADIENT_NOISE, options: { eta: 0, gamma: 'slow' } }] };
    const error = await resolveConfig(value, { file: configPath }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((entry) => entry.path)).toEqual(['/plugins/0/options/eta', '/plugins/0/options/gamma']);
    expect(issues.every((entry) => entry.plugin === GRADIENT_NOISE)).toBe(true);
    expect(issues[0]!.message).toContain(`(plugin '${GRADIENT_NOISE}'): received 0, expected a number > 0`);
  });
});
