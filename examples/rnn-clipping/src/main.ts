// Trains the same IRNN on row-sequential MNIST four times, once per config file, and compares
// no clipping, global-norm clipping, AGC and ZClip.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadConfig } from '@gradhooks/config';
import { selectBackend } from '@gradhooks/core/node';

import { disposeRowMnist, loadRowMnist } from './data.js';
import { summaryTable, windowTable } from './report.js';
import { trainRun } from './train.js';
import type { RunResult, TrainSettings } from './train.js';

const DATA = { trainPerDigit: 600, testPerDigit: 200, seed: 3 };

const SETTINGS: TrainSettings = {
  epochs: 3,
  batchSize: 32,
  learningRate: learningRateFromEnvironment(0.05),
  units: 64,
  modelSeed: 13,
};

/** Runs in table order; paths are relative to this file. */
const RUNS = [
  { name: 'none', config: '../configs/none.json' },
  { name: 'global-norm', config: '../configs/global-norm.json' },
  { name: 'agc', config: '../configs/agc.json' },
  { name: 'zclip', config: '../configs/zclip.json' },
];

/** Batches per row of the window tables. */
const WINDOW = 75;

async function main(): Promise<void> {
  const started = performance.now();
  const backend = await selectBackend();
  console.log(`backend: ${backend.backend} (${backend.package})`);
  // Every config loads before any training, so an error in one shows at once.
  const configs = await Promise.all(RUNS.map((run) => loadConfig(fileURLToPath(new URL(run.config, import.meta.url)))));

  const data = loadRowMnist(DATA);
  console.log(`row-sequential MNIST: ${data.train.size} training and ${data.test.size} test images, 28 time steps of 28 pixels`);
  console.log(
    `IRNN with ${SETTINGS.units} ReLU units, SGD learning rate ${SETTINGS.learningRate}, batch ${SETTINGS.batchSize}, ${SETTINGS.epochs} epochs\n`,
  );

  const results: RunResult[] = [];
  try {
    for (const [i, run] of RUNS.entries()) {
      const result = await trainRun(run.name, configs[i]!, data, SETTINGS);
      console.log(`${run.name}: test accuracy ${result.testAccuracy.toFixed(3)}, ${result.skippedSteps} skipped steps, ${result.trainSeconds.toFixed(1)} s`);
      results.push(result);
    }
  } finally {
    disposeRowMnist(data);
  }

  console.log(`\n${summaryTable(results)}\n`);
  console.log(`Mean training loss per ${WINDOW} batches\n\n${windowTable(results, WINDOW, 'loss')}\n`);
  console.log(`Median global gradient norm before clipping, applied steps, per ${WINDOW} batches\n\n${windowTable(results, WINDOW, 'norm')}\n`);
  console.log(`Skipped steps per ${WINDOW} batches\n\n${windowTable(results, WINDOW, 'skips')}\n`);

  const folder = fileURLToPath(new URL('../runs/', import.meta.url));
  mkdirSync(folder, { recursive: true });
  writeFileSync(`${folder}results.json`, `${JSON.stringify({ settings: SETTINGS, data: DATA, results }, null, 1)}\n`);
  console.log(`per-batch records: ${folder}results.json`);
  console.log(`total wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** Reads RNN_CLIPPING_LEARNING_RATE, which overrides the learning rate of every run. */
function learningRateFromEnvironment(fallback: number): number {
  const text = process.env['RNN_CLIPPING_LEARNING_RATE'];
  if (text === undefined) {
    return fallback;
  }
  const value = Number(text);
  if (!(value > 0 && Number.isFinite(value))) {
    throw new RangeError(`RNN_CLIPPING_LEARNING_RATE must be a positive number, received '${text}'.`);
  }
  return value;
}

await main();
