import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';

import { loadConfig } from '@gradhooks/config';
import { ErrorCode, GradhooksError } from '@gradhooks/core';
import { createJsonlSink } from '@gradhooks/core/node';

import { buildReport } from '../src/commands/report.js';
import { validateConfig } from '../src/commands/validate.js';
import { keptNorms } from './fixtures/broken-plugins/leaking-plugin.js';
import { fixture, matrixProblem, temporaryFolder } from './helpers.js';

const folder = temporaryFolder('broken');
afterAll(() => {
  folder.remove();
  tf.dispose(keptNorms.splice(0));
});

/** Loads a broken plugin's config, trains up to 10 steps and returns the error that stopped it. */
async function trainUntilError(name: string): Promise<{ error: unknown; steps: number; jsonl: string }> {
  const config = await loadConfig(fixture('broken-plugins', `${name}.config.json`));
  const problem = matrixProblem();
  const jsonl = join(folder.path, `${name}.jsonl`);
  let steps = 0;
  let error: unknown;
  try {
    const optimizer = config.createOptimizer(tf.train.sgd(0.1));
    const sink = createJsonlSink(optimizer.telemetry, jsonl);
    try {
      for (; steps < 10; steps++) {
        optimizer.step(problem.objectives, { variables: problem.variables });
      }
    } catch (caught) {
      error = caught;
    } finally {
      await sink.close();
      optimizer.dispose();
    }
  } catch (caught) {
    error = caught;
  } finally {
    problem.dispose();
  }
  return { error, steps, jsonl };
}

const cases = [
  { name: 'throwing', plugin: 'throwing-plugin', code: ErrorCode.ERR_PLUGIN_FAILED, hook: 'gradients', steps: 2, message: "Plugin 'throwing-plugin' failed in hook 'gradients': The scale went negative. No variable was changed" },
  { name: 'wrong-shape', plugin: 'wrong-shape-plugin', code: ErrorCode.ERR_GRADIENT_SHAPE_MISMATCH, hook: 'gradients', steps: 0, message: "Plugin 'wrong-shape-plugin' returned a gradient of shape [6]" },
  { name: 'dropped-key', plugin: 'dropped-key-plugin', code: ErrorCode.ERR_GRADIENT_KEYS_CHANGED, hook: 'gradients', steps: 0, message: "Plugin 'dropped-key-plugin' changed the variable keys" },
  { name: 'leaking', plugin: 'leaking-plugin', code: ErrorCode.ERR_PLUGIN_LEAK, hook: undefined, steps: 5, message: "Plugin 'leaking-plugin' leaks tensors" },
] as const;

describe('broken third-party plugins from files', () => {
  for (const entry of cases) {
    it(`${entry.name} plugin is named in the error`, async () => {
      const { error, steps } = await trainUntilError(entry.name);

      expect(error).toBeInstanceOf(GradhooksError);
      expect(error).toMatchObject({ code: entry.code, plugin: entry.plugin });
      expect((error as GradhooksError).hook).toBe(entry.hook);
      expect((error as Error).message).toContain(entry.message);
      expect(steps).toBe(entry.steps);
    });
  }

  it('unknown hook is named when the session is created', async () => {
    const { error, steps } = await trainUntilError('unknown-hook');

    expect(error).toMatchObject({ code: ErrorCode.ERR_HOOK_UNKNOWN, plugin: 'unknown-hook-plugin', hook: 'gradient' });
    expect((error as GradhooksError).fix).toBe("Rename 'gradient' to 'gradients'.");
    expect(steps).toBe(0);
  });

  it('validate reports the unknown hook at its config entry', async () => {
    const file = fixture('broken-plugins', 'unknown-hook.config.json');
    const result = await validateConfig(file);

    expect(result.valid).toBe(false);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ code: ErrorCode.ERR_HOOK_UNKNOWN, file, path: '/plugins/0/use', plugin: 'unknown-hook-plugin', received: 'gradient' });
    expect(result.problems[0]!.message).toBe(
      `${file}: /plugins/0/use (plugin 'unknown-hook-plugin'): received "gradient", expected ${result.problems[0]!.expected}. Rename 'gradient' to 'gradients'.`,
    );
  });

  it('report lists the error of a failed run', async () => {
    const { jsonl } = await trainUntilError('throwing');
    const output = join(folder.path, 'throwing.html');
    const result = await buildReport(jsonl, { output });
    const html = await import('node:fs/promises').then((fs) => fs.readFile(output, 'utf8'));

    expect(result.sections.find((section) => section.id === 'errors')?.present).toBe(true);
    expect(html).toContain('<td>throwing-plugin</td><td>gradients</td><td>ERR_PLUGIN_FAILED</td>');
  });
});
