import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';

import {
  buildConfigSchema,
  builtinPlugins,
  ConfigError,
  ConfigErrorCode,
  defineConfig,
  INLINE_CONFIG,
  loadConfig,
  PluginRegistry,
  resolveConfig,
} from '@gradhooks/config';
import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';
import { readFileSync } from 'node:fs';

import { regressionCase } from '../../../test/helpers/specs.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const scratch = mkdtempSync(join(tmpdir(), 'gradhooks-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function writeConfig(name: string, value: unknown): string {
  const file = join(scratch, name);
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

async function configError(value: unknown, registry?: PluginRegistry): Promise<ConfigError> {
  const file = writeConfig(`case-${Math.random().toString(36).slice(2)}.json`, value);
  try {
    await loadConfig(file, registry === undefined ? {} : { registry });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.file).toBe(file);
    return configError;
  }
  throw new Error('expected the config to be rejected');
}

describe('loadConfig', () => {
  it('resolves a valid file with built-in and third-party plugins', async () => {
    const config = await loadConfig(join(fixtures, 'valid.json'));
    expect(config.file).toBe(join(fixtures, 'valid.json'));
    expect(config.seed).toBe(7);
    expect(config.level).toBe('parameter');
    expect(config.guard).toBe(true);
    expect(config.objectives).toEqual({ left: { weight: 1 }, right: { weight: 0.5 } });
    expect(config.plugins.map((plugin) => plugin.definition.name)).toEqual(['pcgrad', 'clip-global-norm', 'scale-gradients']);
    expect(config.plugins[0]!.options).toEqual({ reduction: 'sum', epsilon: 1e-20, variables: ['shared*/**'], seed: 3, dryRun: false });
    expect(config.plugins[1]!.options).toMatchObject({ maxNorm: 5, normType: 2, convention: 'exact' });
    expect(config.plugins[2]!.options).toMatchObject({ factor: 0.25 });
    expect(config.telemetry).toEqual({ jsonl: join(fixtures, 'runs', 'valid.jsonl'), every: 10 });
  });

  it('builds a working optimizer from the config', async () => {
    const config = await loadConfig(join(fixtures, 'valid.json'));
    const optimizer = config.createOptimizer(tf.train.sgd(0.1));
    expect(optimizer.session.describe().map((plugin) => plugin.name)).toEqual(['pcgrad', 'clip-global-norm', 'scale-gradients']);
    expect(optimizer.session.objectives).toEqual(['left', 'right']);
    optimizer.dispose();
  });

  it('reports an unknown plugin with a suggestion', async () => {
    const error = await configError({ plugins: [{ use: 'pcgard' }] });
    expect(error.code).toBe(ConfigErrorCode.ERR_CONFIG_PLUGIN_UNKNOWN);
    expect(error.path).toBe('/plugins/0/use');
    expect(error.received).toBe('pcgard');
    expect(error.expected).toContain('pcgrad');
    expect(error.fix).toBe("Did you mean 'pcgrad'?");
    expect(error.message).toContain(`${error.file}: /plugins/0/use: received "pcgard"`);
  });

  it('reports a wrong option type', async () => {
    const error = await configError({ plugins: [{ use: 'clip-global-norm', options: { maxNorm: 'five' } }] });
    expect(error.code).toBe(ConfigErrorCode.ERR_CONFIG_OPTION_INVALID);
    expect(error.plugin).toBe('clip-global-norm');
    expect(error.path).toBe('/plugins/0/options/maxNorm');
    expect(error.received).toBe('five');
    expect(error.expected).toContain('type number');
    expect(error.fix).toContain("'maxNorm'");
  });

  it('reports unknown keys at the top level and in options', async () => {
    const error = await configError({ objectivs: {}, plugins: [{ use: 'pcgrad', options: { reducton: 'sum' } }] });
    expect(error.issues.map((issue) => [issue.path, issue.fix])).toEqual([
      ['/objectivs', "Rename 'objectivs' to 'objectives'."],
      ['/plugins/0/options/reducton', "Rename 'reducton' to 'reduction'."],
    ]);
  });

  it('reports an out-of-range value', async () => {
    const error = await configError({ plugins: [{ use: 'clip-global-norm', options: { maxNorm: -2 } }] });
    expect(error.path).toBe('/plugins/0/options/maxNorm');
    expect(error.received).toBe(-2);
    expect(error.expected).toContain('a number > 0');
    expect(error.fix).toBe("Set 'maxNorm' to a number > 0.");
  });

  it('reports invalid JSON with its position', async () => {
    const error = await configError(readFileSync(join(fixtures, 'broken.json'), 'utf8'));
    expect(error.code).toBe(ConfigErrorCode.ERR_CONFIG_JSON_INVALID);
    expect(String(error.received)).toMatch(/line 4, column \d+/);
  });

  it('reports a missing file', async () => {
    await expect(loadConfig(join(scratch, 'missing.json'))).rejects.toMatchObject({ code: ConfigErrorCode.ERR_CONFIG_FILE_UNREADABLE, received: 'ENOENT' });
  });

  it('rejects two aggregators', async () => {
    const error = await configError({ plugins: [{ use: 'sum' }, { use: 'pcgrad' }] });
    expect(error.code).toBe(ConfigErrorCode.ERR_CONFIG_PLUGIN_CONFLICT);
    expect(error.path).toBe('/plugins/1/use');
    expect(error.expected).toContain("plugins/0 is 'sum'");
  });

  it('accepts a dry-run aggregator for comparison', async () => {
    const config = await resolveConfig({ plugins: [{ use: 'sum' }, { use: 'pcgrad', options: { dryRun: true } }] });
    expect(config.plugins.map((plugin) => plugin.definition.name)).toEqual(['sum', 'pcgrad']);
    const optimizer = config.createOptimizer(tf.train.sgd(0.1));
    expect(optimizer.session.describe()).toHaveLength(2);
    optimizer.dispose();
  });

  it('rejects a plugin naming an undeclared objective', async () => {
    const roles = definePlugin<{ main: string }>({
      name: 'roles',
      description: 'needs a main objective',
      options: { type: 'object', properties: { main: { type: 'string' } }, required: ['main'], additionalProperties: false },
      objectiveOptions: ['main'],
      create: () => ({}),
    });
    const registry = new PluginRegistry([...builtinPlugins, roles]);
    const error = await configError({ objectives: { task: {}, aux: {} }, plugins: [{ use: 'roles', options: { main: 'tsak' } }] }, registry);
    expect(error.code).toBe(ConfigErrorCode.ERR_CONFIG_OBJECTIVE_UNKNOWN);
    expect(error.path).toBe('/plugins/0/options/main');
    expect(error.fix).toBe("Did you mean 'task'?");
    const none = await configError({ plugins: [{ use: 'roles', options: { main: 'task' } }] }, registry);
    expect(none.expected).toContain('none is declared');
  });

  it('resolves configs built in code', async () => {
    const config = await resolveConfig(defineConfig({ plugins: [{ use: 'pcgrad', options: { reduction: 'mean' } }] }));
    expect(config.file).toBe(INLINE_CONFIG);
    expect(config.plugins[0]!.options['reduction']).toBe('mean');
  });
});

describe('B04: options are never ignored, misparsed or combined', () => {
  const b04 = regressionCase('B04');
  for (const entry of b04.subcases!) {
    const name = String(entry['name']);
    const config = entry['config'];
    const expected = entry['expected'] as { load_error?: boolean; message_mentions?: string[]; output?: Record<string, number[]> };
    it(name, async () => {
      if (expected.load_error === true) {
        const error = await configError(config);
        for (const word of expected.message_mentions ?? []) {
          expect(error.message).toContain(word);
        }
        if (name === 'mutually exclusive clip modes') {
          // clip-norm is shipped by the clipping family; until it is registered the entry is unknown.
          const registered = new PluginRegistry().get('clip-norm') !== undefined;
          expect(error.code).toBe(registered ? ConfigErrorCode.ERR_CONFIG_PLUGIN_CONFLICT : ConfigErrorCode.ERR_CONFIG_PLUGIN_UNKNOWN);
        }
        return;
      }
      const resolved = await resolveConfig(config);
      const tasks = (entry['input'] as { tasks: Array<Record<string, number[]>> }).tasks;
      const w = tf.variable(tf.zeros([2]), true, `b04-${name.replace(/\W+/g, '-')}/w`);
      const optimizer = resolved.createOptimizer(tf.train.sgd(1));
      optimizer.step(
        Object.fromEntries(tasks.map((task, k) => [`task${k}`, { gradients: () => ({ value: tf.scalar(0), grads: { [w.name]: tf.tensor1d(task['w']!) } }) }])),
        { variables: [w] },
      );
      // SGD with learning rate 1 moves w by minus the combined gradient.
      const moved = Array.from(w.dataSync()).map((value) => -value);
      const tolerance = entry['tolerance'] as number;
      expected.output!['w']!.forEach((value, i) => expect(Math.abs(moved[i]! - value)).toBeLessThanOrEqual(tolerance));
      optimizer.dispose();
      w.dispose();
    });
  }
});

describe('assembled schema', () => {
  it('is up to date in schema.json', () => {
    const written = JSON.parse(readFileSync(join(fixtures, '..', '..', 'schema.json'), 'utf8'));
    expect(written).toEqual(JSON.parse(JSON.stringify(buildConfigSchema(builtinPlugins))));
  });

  it('accepts the valid fixture and rejects bad plugin options', () => {
    const ajv = new Ajv({ strict: false });
    const validate = ajv.compile(buildConfigSchema(builtinPlugins));
    const valid = JSON.parse(readFileSync(join(fixtures, 'valid.json'), 'utf8'));
    valid.plugins = valid.plugins.slice(0, 2);
    expect(validate(valid)).toBe(true);
    expect(validate({ plugins: [{ use: 'clip-global-norm', options: { maxNorm: 0 } }] })).toBe(false);
    expect(validate({ plugins: [{ use: 'pcgrad', options: { reduction: 'summ' } }] })).toBe(false);
  });
});

describe('errors when the optimizer is built', () => {
  it('name the config file for objectives the model lacks', async () => {
    const input = tf.input({ shape: [2] });
    const left = tf.layers.dense({ units: 1, name: 'cfg_left' }).apply(input) as tf.SymbolicTensor;
    const right = tf.layers.dense({ units: 1, name: 'cfg_right' }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: [left, right] });
    const file = writeConfig('objectives.json', { objectives: { a: {}, b: {} }, plugins: [{ use: 'pcgrad' }] });
    const config = await loadConfig(file);
    let caught: GradhooksError | undefined;
    try {
      config.createOptimizer(tf.train.sgd(0.1), { model });
    } catch (error) {
      caught = error as GradhooksError;
    }
    expect(caught).toBeInstanceOf(GradhooksError);
    expect(caught?.code).toBe(ErrorCode.ERR_OBJECTIVE_MISMATCH);
    expect(caught?.file).toBe(file);
    expect(caught?.message.startsWith(`${file}: /objectives: `)).toBe(true);
    expect(caught?.path).toBe('/objectives');
    expect(caught?.message).toContain("Name the objectives after the model's outputs: cfg_left, cfg_right.");
    model.dispose();
  });

  it('rejects weights at the representation level at load time', async () => {
    const error = await configError({ level: 'representation', objectives: { left: { weight: 3 }, right: {} } });
    expect(error.path).toBe('/objectives/left/weight');
    expect(error.received).toBe(3);
  });
});

describe('plugin files', () => {
  it('report a missing file with a sibling suggestion', async () => {
    const file = join(fixtures, 'missing-file.json');
    writeFileSync(file, JSON.stringify({ plugins: [{ use: './scale-plugin.js' }] }));
    try {
      await expect(loadConfig(file)).rejects.toMatchObject({
        code: ConfigErrorCode.ERR_CONFIG_PLUGIN_UNKNOWN,
        path: '/plugins/0/use',
        expected: `a plugin file; there is no file at ${join(fixtures, 'scale-plugin.js')}`,
        fix: "Did you mean './scale-plugin.ts'?",
      });
    } finally {
      rmSync(file);
    }
  });
});
