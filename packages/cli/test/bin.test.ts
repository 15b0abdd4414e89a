import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { repositoryRoot, temporaryFolder } from './helpers.js';
import { syntheticRun } from './syntheticRun.js';

const bin = fileURLToPath(new URL('../bin/gradhooks.mjs', import.meta.url));
const folder = temporaryFolder('bin');
afterAll(() => folder.remove());

/** Runs the gradhooks bin with Node and returns its exit code and output. */
function gradhooks(args: readonly string[], cwd = repositoryRoot): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      let code = 0;
      if (error !== null) {
        // execFile reports a signal or a spawn failure with a non-numeric code.
        code = typeof error.code === 'number' ? error.code : -1;
      }
      resolve({ code, stdout, stderr });
    });
  });
}

describe('gradhooks bin', () => {
  it('prints help for every command', async () => {
    for (const args of [['--help'], ['validate', '--help'], ['schema', '--help'], ['init', '--help'], ['report', '--help']]) {
      const result = await gradhooks(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).toMatch(/^Usage: gradhooks/);
      expect(result.stdout, args.join(' ')).toContain('Exit codes:');
    }
  });

  it('validate exits 0 or 1', async () => {
    const valid = await gradhooks(['validate', 'examples/multitask-mnist/gradhooks.config.json']);
    const invalidFile = join(folder.path, 'invalid.json');
    writeFileSync(invalidFile, JSON.stringify({ plugins: [{ use: 'clip-global-norm', options: { maxNorm: 0 } }] }));
    const invalid = await gradhooks(['validate', invalidFile]);

    expect(valid.code).toBe(0);
    expect(valid.stdout).toContain('gradhooks.config.json: valid (2 plugin(s): pcgrad, clip-global-norm)');
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain(`${invalidFile}: /plugins/0/options/maxNorm (plugin 'clip-global-norm'): received 0, expected a number > 0`);
    expect(invalid.stdout).toContain(`${invalidFile}: 1 problem(s)`);
  });

  it('schema includes a third-party package', async () => {
    const result = await gradhooks(['schema', '--plugins', 'gradhooks-plugin-gradient-noise'], join(repositoryRoot, 'examples', 'third-party-plugin'));
    const schema = JSON.parse(result.stdout);

    expect(result.code).toBe(0);
    expect(schema.properties.plugins.items.properties.use.anyOf[0].enum).toContain('gradhooks-plugin-gradient-noise');
  });

  it('init writes a config and lists what to set', async () => {
    const output = join(folder.path, 'starter.json');
    const result = await gradhooks(['init', 'pcgrad', 'clip-global-norm', '--objectives', 'left,right', '-o', output]);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`wrote ${output}\n`);
    expect(result.stderr).toMatch(/^to do: Set \/plugins\/1\/options\/maxNorm \(plugin 'clip-global-norm'\)/);
    expect(JSON.parse(readFileSync(output, 'utf8')).objectives).toEqual({ left: { weight: 1 }, right: { weight: 1 } });
    const again = await gradhooks(['init', 'pcgrad', '-o', output]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists. Pass --force to replace it');
  });

  it('report writes the page and prints its path', async () => {
    const input = join(folder.path, 'run.jsonl');
    syntheticRun(input, 100, ['session', 'step', 'clip']);
    const result = await gradhooks(['report', input, '-o', join(folder.path, 'run.html')]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^wrote ${join(folder.path, 'run.html')} \\(\\d+ events, 4 charts; not in this run: `));
    expect(existsSync(join(folder.path, 'run.html'))).toBe(true);
    const missing = await gradhooks(['report', join(folder.path, 'none.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^gradhooks: Cannot read .*none\.jsonl: ENOENT/);
  });

  it('rejects an unknown command', async () => {
    const result = await gradhooks(['valdate']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error: unknown command 'valdate'");
  });
});
