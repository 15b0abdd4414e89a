import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ConfigErrorCode, PluginRegistry, resolveConfig } from '@gradhooks/config';
import { ErrorCode } from '@gradhooks/core';
import { clipPlugins, clipValue, emaWeightsOf } from '@gradhooks/plugin-clip';

import { regressionCase, subcase } from '../../../test/helpers/specs.js';
import { uniquePrefix } from './helpers.js';

const names = ['clip-value', 'clip-norm', 'clip-global-norm', 'agc', 'autoclip', 'zclip', 'nonfinite', 'accumulate', 'ema-weights'];

describe('clip plugins in configs', () => {
  it('registers every plugin of the family', () => {
    expect(clipPlugins.map((plugin) => plugin.definition.name)).toEqual(names);
    const registry = new PluginRegistry();
    for (const name of names) {
      expect(registry.get(name)?.definition.name).toBe(name);
    }
  });

  it('describes every option', () => {
    for (const plugin of clipPlugins) {
      const properties = (plugin.definition.options.properties ?? {}) as Record<string, { description?: string }>;
      for (const [key, property] of Object.entries(properties)) {
        expect(property.description, `${plugin.definition.name}.${key}`).toMatch(/\w{3,}/);
      }
    }
  });

  it('B04 rejects clip-norm with clip-global-norm', async () => {
    const entry = subcase('B04', 'mutually exclusive clip modes');
    await expect(resolveConfig(entry['config'])).rejects.toMatchObject({
      issues: [expect.objectContaining({ code: ConfigErrorCode.ERR_CONFIG_PLUGIN_CONFLICT, path: '/plugins/1/use' })],
    });
  });

  it('B08 min above max fails at load time', async () => {
    const entry = subcase('B08', 'value clip with min > max');
    expect((entry['expected'] as { load_error: boolean }).load_error).toBe(true);
    // JSON Schema cannot compare two options; the plugin's validate() does, wherever options are validated.
    await expect(resolveConfig(entry['config'])).rejects.toMatchObject({
      issues: [expect.objectContaining({ code: ConfigErrorCode.ERR_CONFIG_OPTION_INVALID, plugin: 'clip-value', path: '/plugins/0/options/min' })],
    });
    expect(() => clipValue({ min: 1, max: -1 })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, plugin: 'clip-value', path: '/min' }));
    expect(() => clipValue({ max: -1 })).toThrowError(expect.objectContaining({ path: '/max' }));
  });

  it('rejects invalid options at load time', async () => {
    const invalid = [
      { use: 'agc', options: { clipping: 0 } },
      { use: 'autoclip', options: { percentile: 101 } },
      { use: 'zclip', options: { alpha: 1 } },
      { use: 'nonfinite', options: { policy: 'ignore' } },
      { use: 'accumulate', options: {} },
      { use: 'ema-weights', options: { decay: 1 } },
      { use: 'clip-norm', options: { maxNorm: -1 } },
    ];
    for (const plugin of invalid) {
      await expect(resolveConfig({ plugins: [plugin] }), plugin.use).rejects.toMatchObject({
        issues: [expect.objectContaining({ code: ConfigErrorCode.ERR_CONFIG_OPTION_INVALID, plugin: plugin.use })],
      });
    }
  });

  it('B15 runs accumulate and ema-weights from a config', async () => {
    const entry = regressionCase('B15').subcases![0]!;
    const config = await resolveConfig(entry['config']);
    const w = tf.variable(tf.zeros([1]), true, `${uniquePrefix('config')}/w`);
    const optimizer = config.createOptimizer(tf.train.sgd(1));
    for (const target of [1, 1, 2, 2]) {
      optimizer.step({ loss: { gradients: () => ({ value: tf.scalar(0), grads: { [w.name]: tf.tensor1d([w.dataSync()[0]! - target]) } }) } }, { variables: [w] });
    }
    expect(optimizer.iterations).toBe(2);
    expect(emaWeightsOf(optimizer)!.updates).toBe((entry['expected'] as { ema_step_counter: number }).ema_step_counter);
    optimizer.dispose();
    w.dispose();
  });
});
