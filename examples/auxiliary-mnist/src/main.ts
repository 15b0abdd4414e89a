// Auxiliary learning on MultiMNIST: the left digit is the main task, the right digit an auxiliary one.
// Compares a plain sum, a weighted sum, PCGrad and EMA-Bloop on main-task test accuracy over three seeds.
import { selectBackend } from '@gradhooks/core/node';

import { METHODS, runExperiment } from './experiment.js';
import type { ExperimentResult, ExperimentSettings } from './experiment.js';

const SETTINGS: ExperimentSettings = {
  trainPairs: 3000,
  testPairs: 1000,
  seeds: [1, 2, 3],
  epochs: 5,
  batchSize: 64,
  learningRate: 1e-3,
  hiddenUnits: [128, 64],
};

async function main(): Promise<void> {
  const started = performance.now();
  const backend = await selectBackend();
  console.log(`backend: ${backend.backend} (${backend.package})`);
  console.log(
    `MultiMNIST: ${SETTINGS.trainPairs} training and ${SETTINGS.testPairs} test pairs per seed; seeds ${SETTINGS.seeds.join(', ')}; ` +
      `${SETTINGS.epochs} epochs, batch ${SETTINGS.batchSize}, Adam ${SETTINGS.learningRate}, hidden units ${SETTINGS.hiddenUnits.join('-')}`,
  );
  for (const method of METHODS) {
    console.log(`  ${method.name}: ${method.description} (${method.config.replace('../', '')})`);
  }
  console.log('');

  const results = await runExperiment(SETTINGS, (method, seed, result) => {
    console.log(
      `seed ${seed} ${method.padEnd(8)} left ${result.accuracyLeft.toFixed(3)}  right ${result.accuracyRight.toFixed(3)}  (${result.trainSeconds.toFixed(1)} s)`,
    );
  });

  console.log(`\n${accuracyTable(results)}\n`);
  const bloop = results.find((result) => result.method.name === 'bloop');
  if (bloop !== undefined) {
    console.log(bloopTable(bloop));
  }
  console.log(`\ntotal wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Mean and sample standard deviation. */
function meanAndSd(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((total, value) => total + value, 0) / values.length;
  const variance = values.length < 2 ? 0 : values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

/** Formats rows as a Markdown table. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

function accuracyTable(results: readonly ExperimentResult[]): string {
  const seeds = results[0]!.runs.map((run) => run.seed);
  const sumLeft = results.find((result) => result.method.name === 'sum')!.runs.map((run) => run.accuracyLeft);
  const rows = results.map(({ method, runs }) => {
    const left = meanAndSd(runs.map((run) => run.accuracyLeft));
    const right = meanAndSd(runs.map((run) => run.accuracyRight));
    const difference = meanAndSd(runs.map((run, k) => run.accuracyLeft - sumLeft[k]!));
    return [
      method.name,
      ...runs.map((run) => run.accuracyLeft.toFixed(3)),
      `${left.mean.toFixed(3)} ± ${left.sd.toFixed(3)}`,
      method.name === 'sum' ? '—' : `${difference.mean >= 0 ? '+' : ''}${difference.mean.toFixed(3)} ± ${difference.sd.toFixed(3)}`,
      `${right.mean.toFixed(3)} ± ${right.sd.toFixed(3)}`,
      (runs.reduce((total, run) => total + run.trainSeconds, 0) / runs.length).toFixed(1),
    ];
  });
  return table(
    ['method', ...seeds.map((seed) => `left, seed ${seed}`), 'left mean ± sd', 'left − sum (paired)', 'right mean ± sd', 'train s'],
    rows,
  );
}

function bloopTable(result: ExperimentResult): string {
  const rows = result.runs.map((run) => [
    String(run.seed),
    String(run.bloop?.reportedSteps ?? 0),
    run.bloop === undefined ? 'n/a' : run.bloop.meanCosine.toFixed(3),
    run.bloop === undefined ? 'n/a' : run.bloop.conflictShare.toFixed(2),
    run.bloop === undefined ? 'n/a' : run.bloop.meanRatio.toExponential(2),
  ]);
  return `Bloop telemetry (every 5th step):\n\n${table(['seed', 'reported steps', 'mean cos(aux, EMA)', 'share cos < 0', 'mean ratio r'], rows)}`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
