import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import { createJsonlSink } from '@gradhooks/core/node';

import { tapPlugin, twoObjectiveProblem } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

describe('telemetry', () => {
  it('reports losses every N calls and steps on every call', () => {
    const problem = twoObjectiveProblem();
    cleanups.push(problem.dispose);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.01), { telemetry: { every: 2 } });
    const steps: Array<{ call: number; losses?: Record<string, number> }> = [];
    optimizer.telemetry.on('step', (event) => steps.push(event));
    for (let i = 0; i < 4; i++) {
      optimizer.step(problem.objectives, { variables: problem.variables });
    }
    expect(steps.map((event) => event.call)).toEqual([1, 2, 3, 4]);
    expect(steps.map((event) => event.losses !== undefined)).toEqual([true, false, true, false]);
    expect(Object.keys(steps[0]!.losses!)).toEqual(['left', 'right']);
    optimizer.dispose();
  });

  it('announces the resolved plugins once', () => {
    const problem = twoObjectiveProblem();
    cleanups.push(problem.dispose);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.01), { plugins: [tapPlugin('quiet', () => ({}))] });
    const sessions: unknown[] = [];
    optimizer.telemetry.on('session', (event) => sessions.push(event));
    optimizer.step(problem.objectives, { variables: problem.variables });
    optimizer.step(problem.objectives, { variables: problem.variables });
    expect(sessions).toEqual([{ plugins: [{ name: 'quiet', options: { variables: ['**'], dryRun: false } }], objectives: [], level: 'parameter' }]);
    optimizer.dispose();
  });

  it('drops the events of a failed step and reports the error', () => {
    const problem = twoObjectiveProblem();
    cleanups.push(problem.dispose);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.01), {
      plugins: [
        tapPlugin('chatty', () => ({
          gradients: (gradients, step) => {
            step.emit('state', { values: { seen: true } });
            throw new Error('after emitting');
          },
        })),
      ],
    });
    const names: string[] = [];
    optimizer.telemetry.onAny((event) => names.push(event));
    expect(() => optimizer.step(problem.objectives, { variables: problem.variables })).toThrow();
    expect(names).toEqual(['session', 'error']);
    optimizer.dispose();
  });

  it('writes JSONL with non-finite numbers as strings', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gradhooks-telemetry-'));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const problem = twoObjectiveProblem();
    cleanups.push(problem.dispose);
    const optimizer = new HookedOptimizer(tf.train.sgd(0.01), {
      plugins: [tapPlugin('reporter', () => ({ gradients: (gradients, step) => (step.emit('state', { values: { ratio: Number.POSITIVE_INFINITY } }), gradients) }))],
    });
    const sink = createJsonlSink(optimizer.telemetry, join(folder, 'nested', 'run.jsonl'));
    optimizer.step(problem.objectives, { variables: problem.variables });
    await sink.close();
    const lines = readFileSync(join(folder, 'nested', 'run.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.event)).toEqual(['session', 'state', 'step']);
    expect(lines[1].values.ratio).toBe('Infinity');
    expect(lines[1].plugin).toBe('reporter');
    expect(typeof lines[2].time).toBe('number');
    expect(sink.written).toBe(3);
    optimizer.dispose();
  });
});
