// Few-shot fine-tuning on a shifted MNIST domain with the pretrained model as a frozen reference:
// plain fine-tuning, fine-tuning with a KL term, and ProGrad, measured on the new and the original domain.
import { selectBackend } from '@gradhooks/core/node';

import { loadDigits } from './data.js';
import { runExperiment } from './experiment.js';
import type { ExperimentSettings, ShiftResult } from './experiment.js';

const SETTINGS: ExperimentSettings = {
  hiddenUnits: 128,
  pretrainSeed: 7,
  pretrain: { epochs: 5, batchSize: 64, learningRate: 1e-3 },
  fineTune: { epochs: 20, batchSize: 16, learningRate: 1e-3 },
  shotsPerClass: 16,
  shifts: [{ kind: 'rotate', degrees: 45 }, { kind: 'invert' }],
  seeds: [1, 2, 3, 4, 5],
};

async function main(): Promise<void> {
  const started = performance.now();
  const backend = await selectBackend();
  console.log(`backend: ${backend.backend} (${backend.package})`);
  const digits = loadDigits();
  console.log(`MNIST (mnist package): ${digits.train.size} training and ${digits.test.size} test images, split 80/20 within each class`);
  const { pretrain, fineTune } = SETTINGS;
  console.log(
    `pretraining: MLP 784-${SETTINGS.hiddenUnits}-10, ${pretrain.epochs} epochs, batch ${pretrain.batchSize}, Adam ${pretrain.learningRate}, seed ${SETTINGS.pretrainSeed}`,
  );
  console.log(
    `fine-tuning: ${SETTINGS.shotsPerClass} images per class (${SETTINGS.shotsPerClass * 10}), ${fineTune.epochs} epochs, batch ${fineTune.batchSize}, ` +
      `Adam ${fineTune.learningRate}, seeds ${SETTINGS.seeds.join(', ')}\n`,
  );

  const result = await runExperiment(digits, SETTINGS, (shift, method, run) => {
    console.log(`${shift}, seed ${run.seed}, ${method.padEnd(7)} new domain ${run.shifted.toFixed(3)}  original ${run.original.toFixed(3)}`);
  });
  console.log(`\npretrained model: ${result.pretrainedAccuracy.toFixed(3)} on the original test images\n`);
  for (const shift of result.shifts) {
    console.log(`${shiftTable(shift)}\n`);
  }
  console.log(`total wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Mean and sample standard deviation. */
function meanAndSd(values: readonly number[]): string {
  const mean = values.reduce((total, value) => total + value, 0) / values.length;
  const variance = values.length < 2 ? 0 : values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1);
  return `${mean.toFixed(3)} ± ${Math.sqrt(variance).toFixed(3)}`;
}

/** Formats one shift's results as a Markdown table, with the pretrained model as the first row. */
function shiftTable(result: ShiftResult): string {
  const header = ['method', 'new domain (mean ± sd)', 'original domain (mean ± sd)', 'share of variable-steps projected'];
  const rows = [
    ['pretrained, no fine-tuning', result.pretrained.shifted.toFixed(3), result.pretrained.original.toFixed(3), '—'],
    ...result.methods.map(({ method, runs }) => [
      method,
      meanAndSd(runs.map((run) => run.shifted)),
      meanAndSd(runs.map((run) => run.original)),
      runs[0]!.projection === undefined ? '—' : meanAndSd(runs.map((run) => run.projection!.projectedShare)),
    ]),
  ];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [`Digits ${result.shift}:`, '', line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
