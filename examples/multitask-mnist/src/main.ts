// Trains the same two-task MultiMNIST model twice, once per config file, compares the runs and
// writes an HTML report of each run next to its telemetry file.
import { fileURLToPath } from 'node:url';

import { buildReport } from '@gradhooks/cli';
import { loadConfig } from '@gradhooks/config';
import { selectBackend } from '@gradhooks/core/node';

import { buildMultiMnist, CANVAS_SIZE, disposeMultiMnist } from './data.js';
import { DATA, SETTINGS } from './settings.js';
import { trainRun } from './train.js';
import type { RunResult } from './train.js';

/** Runs in table order; paths are relative to this file. */
const RUNS = [
  { name: 'baseline', config: '../configs/baseline.json' },
  { name: 'pcgrad', config: '../gradhooks.config.json' },
];

async function main(): Promise<void> {
  const started = performance.now();
  const backend = await selectBackend();
  console.log(`backend: ${backend.backend} (${backend.package})`);

  // Both configs load before any training, so an error in either shows at once.
  const configs = await Promise.all(RUNS.map((run) => loadConfig(fileURLToPath(new URL(run.config, import.meta.url)))));

  const dataStarted = performance.now();
  const data = buildMultiMnist(DATA);
  const dataMs = performance.now() - dataStarted;
  console.log(
    `MultiMNIST: ${data.train.size} training and ${data.test.size} test pairs of ${CANVAS_SIZE}x${CANVAS_SIZE} pixels, built in ${dataMs.toFixed(0)} ms`,
  );
  console.log(
    `training: ${SETTINGS.epochs} epochs, batch ${SETTINGS.batchSize}, Adam learning rate ${SETTINGS.learningRate}, hidden units ${SETTINGS.hiddenUnits.join('-')}\n`,
  );

  const results: RunResult[] = [];
  try {
    for (const [i, run] of RUNS.entries()) {
      results.push(await trainRun(run.name, configs[i]!, data, SETTINGS));
    }
  } finally {
    disposeMultiMnist(data);
  }

  const reports: string[] = [];
  for (const result of results) {
    if (result.jsonl !== undefined) {
      reports.push(`${result.name} report: ${(await buildReport(result.jsonl)).output}`);
    }
  }

  console.log(`\n${formatTable(results)}\n`);
  for (const result of results) {
    console.log(`${result.name} telemetry: ${result.jsonl ?? '(no jsonl file in its config)'}`);
  }
  console.log(`total wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  // The reports come last, so their paths end the output.
  console.log(reports.length === 0 ? 'no report: no config names a telemetry jsonl file' : reports.join('\n'));
}

/** Formats one row per run, columns aligned. */
function formatTable(results: readonly RunResult[]): string {
  const header = ['run', 'plugins', 'acc left', 'acc right', 'acc mean', 'conflict steps', 'mean cos', 'train s'];
  const rows = results.map((result) => {
    const { reportedSteps, conflictingSteps, meanCosine } = result.conflicts;
    const conflictShare = reportedSteps === 0 ? 'n/a' : `${(conflictingSteps / reportedSteps).toFixed(2)} (${conflictingSteps}/${reportedSteps})`;
    return [
      result.name,
      result.plugins.join(', '),
      result.accuracyLeft.toFixed(3),
      result.accuracyRight.toFixed(3),
      ((result.accuracyLeft + result.accuracyRight) / 2).toFixed(3),
      conflictShare,
      Number.isNaN(meanCosine) ? 'n/a' : meanCosine.toFixed(3),
      result.trainSeconds.toFixed(1),
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (cells: readonly string[]) => cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...rows.map(format)].join('\n');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
