import { writeFileSync } from 'node:fs';

/** Event kinds `syntheticRun` can write. */
export type SyntheticKind = 'session' | 'step' | 'metric' | 'conflict' | 'projection' | 'clip' | 'skip' | 'freeze' | 'dryRun' | 'state' | 'error' | 'custom';

const ALL_KINDS: readonly SyntheticKind[] = ['session', 'step', 'metric', 'conflict', 'projection', 'clip', 'skip', 'freeze', 'dryRun', 'state', 'error', 'custom'];

/**
 * Writes a deterministic telemetry JSONL file of `steps` applied steps with
 * the chosen event kinds, in the format `createJsonlSink` writes. The run has
 * two objectives, pcgrad, clip-global-norm, gaqat on six layers and a dry-run
 * noise plugin. Every 97th call is skipped, one norm is infinite and the last
 * event is an error. Returns the number of lines written.
 */
export function syntheticRun(path: string, steps: number, kinds: readonly SyntheticKind[] = ALL_KINDS): number {
  const selectedKinds = new Set(kinds);
  const lines: string[] = [];
  let time = Date.UTC(2026, 0, 1);
  const write = (event: SyntheticKind | 'session', payload: Record<string, unknown>) => {
    if (selectedKinds.has(event)) {
      time += 3;
      lines.push(JSON.stringify({ event: event === 'custom' ? 'noise-histogram' : event, time, ...payload }));
    }
  };
  write('session', {
    plugins: [
      { name: 'pcgrad', options: { reduction: 'sum', epsilon: 1e-20, variables: ['shared*/**'], seed: 7, dryRun: false } },
      { name: 'clip-global-norm', options: { maxNorm: 4, normType: 2, convention: 'exact', variables: ['**'], dryRun: false } },
      { name: 'gaqat', options: { window: 50, threshold: 0.3, variables: ['**'], dryRun: false } },
      { name: 'gradhooks-plugin-gradient-noise', options: { eta: 0.3, gamma: 0.55, variables: ['**'], dryRun: true } },
    ],
    objectives: ['left', 'right'],
    level: 'parameter',
  });
  const layers = ['conv_1/scale', 'conv_2/scale', 'dense_1/scale', 'dense_2/scale', 'head_left/scale', 'head_right/scale'];
  const epochLength = Math.max(1, Math.floor(steps / 6));
  let call = 0;
  for (let step = 0; step < steps; step++) {
    call += 1;
    if (call % 97 === 0) {
      write('skip', { step, plugin: 'nonfinite', reason: 'non-finite gradient in left' });
      write('step', { step, call, applied: false, skipReason: 'non-finite gradient in left', objectives: ['left', 'right'], durationMs: 4, pluginMs: { pcgrad: 1 } });
      call += 1;
    }
    const cosine = 0.35 * Math.sin(step / 40) - 0.05;
    write('conflict', {
      step,
      plugin: 'pcgrad',
      objectives: ['left', 'right'],
      gramian: [[1.2, cosine], [cosine, 0.9]],
      cosines: [[1, cosine], [cosine, 1]],
      conflicts: cosine < 0 ? 1 : 0,
      weights: cosine < 0 ? [1 - cosine / 2, 1 - cosine / 3] : [1, 1],
    });
    if (cosine < 0) {
      write('projection', { step, plugin: 'pcgrad', objective: 'left', onto: 'right', coefficient: cosine });
    }
    const normBefore = step === 10 ? 'Infinity' : 3 + 2 * Math.sin(step / 25) + (step % 7) / 10;
    const clipped = typeof normBefore === 'number' && normBefore > 4;
    write('clip', {
      step,
      plugin: 'clip-global-norm',
      normBefore,
      normAfter: typeof normBefore === 'number' ? Math.min(normBefore, 4) : 'Infinity',
      clipped,
      nonFiniteDetected: typeof normBefore !== 'number',
    });
    write('dryRun', { step, plugin: 'gradhooks-plugin-gradient-noise', hook: 'gradients', relativeChange: 0.5 / (1 + step) ** 0.275 });
    write('state', { step, plugin: 'gradhooks-plugin-gradient-noise', values: { noiseStep: step, variance: 0.3 / (1 + step) ** 0.55, schedule: 'annealed' } });
    if (step > 0 && step % 50 === 0) {
      layers.forEach((layer, i) => {
        const disorder = Math.abs(Math.sin(step / 100 + i));
        write('freeze', { step, plugin: 'gaqat', layer, disorder, frozen: disorder < 0.3 + i * 0.05 });
      });
    }
    write('step', {
      step,
      call,
      applied: true,
      objectives: ['left', 'right'],
      losses: { left: 2.3 * Math.exp(-step / 300) + 0.1, right: 2.2 * Math.exp(-step / 250) + 0.12 },
      durationMs: 20 + (step % 11),
      pluginMs: { pcgrad: 3 + (step % 3), 'clip-global-norm': 1.5 },
    });
    if ((step + 1) % epochLength === 0) {
      const epoch = (step + 1) / epochLength;
      write('metric', { step: step + 1, name: 'accuracy', objective: 'left', split: 'test', value: 0.5 + 0.4 * (1 - Math.exp(-epoch)), epoch });
      write('metric', { step: step + 1, name: 'accuracy', objective: 'right', split: 'test', value: 0.45 + 0.4 * (1 - Math.exp(-epoch / 1.5)), epoch });
      write('custom', { step: step + 1, plugin: 'noise-histogram', bins: [1, 2, 3] });
    }
  }
  write('error', { step: steps, plugin: 'gaqat', code: 'ERR_PLUGIN_FAILED', hook: 'objectiveGradients', message: "Plugin 'gaqat' failed in hook 'objectiveGradients': window state <corrupted>" });
  writeFileSync(path, `${lines.join('\n')}\n`);
  return lines.length;
}
