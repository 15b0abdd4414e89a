// Leave-one-domain-out rotated MNIST: full precision, QAT, QAT with sharpness, and GAQAT, at 4 and 3 bits.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';

import { loadConfig } from '@gradhooks/config';
import type { ResolvedConfig } from '@gradhooks/config';
import { SeededRandom } from '@gradhooks/core';
import { selectBackend } from '@gradhooks/core/node';

import { buildRotatedMnist, disposeRotatedMnist } from './data.js';
import type { RotatedMnist } from './data.js';
import { buildClassifier, quantizeClassifier } from './model.js';
import { formatResults } from './report.js';
import type { RunRow } from './report.js';
import { accuracy, fitEpochs } from './train.js';
import type { PhaseSettings } from './train.js';

const ANGLES = [0, 15, 30, 45];
/** Seed of the data draw; the run seeds vary initialization and data order only. */
const DATA_SEED = 1;

interface Sizes {
  trainPerDomain: number;
  testPerDomain: number;
  hiddenUnits: [number, number];
  floatPhase: PhaseSettings;
  quantizedPhase: PhaseSettings;
  calibrationSize: number;
}

// Sized for about 10 minutes or less on 2 cores with the wasm backend; RESULTS.md has the measured times.
const FULL: Sizes = {
  trainPerDomain: 2000,
  testPerDomain: 2000,
  hiddenUnits: [128, 64],
  floatPhase: { epochs: 6, batchSize: 64, learningRate: 1e-3 },
  quantizedPhase: { epochs: 3, batchSize: 64, learningRate: 5e-4 },
  calibrationSize: 256,
};

/** A smoke-test size: seconds, not a measurement. */
const QUICK: Sizes = {
  trainPerDomain: 200,
  testPerDomain: 200,
  hiddenUnits: [32, 16],
  floatPhase: { epochs: 1, batchSize: 64, learningRate: 1e-3 },
  quantizedPhase: { epochs: 1, batchSize: 64, learningRate: 5e-4 },
  calibrationSize: 64,
};

/** Quantized variants, in table order, with their config files (relative to this file). */
const QUANTIZED_VARIANTS = [
  { name: 'QAT', config: '../configs/qat.json' },
  { name: 'QAT + sharpness', config: '../configs/qat-sharpness.json' },
  { name: 'QAT + sharpness + GAQAT', config: '../configs/gaqat.json' },
];

function parseList(value: string, name: string): number[] {
  const numbers = value.split(',').map((item) => Number(item.trim()));
  if (numbers.some((item) => !Number.isInteger(item))) {
    throw new Error(`--${name} takes a comma-separated list of integers, received '${value}'.`);
  }
  return numbers;
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string', default: '1,2,3' },
      bits: { type: 'string', default: '4,3' },
      'held-out': { type: 'string', default: '45' },
      quick: { type: 'boolean', default: false },
    },
  });
  const heldOut = Number(values['held-out']);
  if (!ANGLES.includes(heldOut)) {
    throw new Error(`--held-out must be one of ${ANGLES.join(', ')}, received '${values['held-out']}'.`);
  }
  return { seeds: parseList(values.seeds, 'seeds'), bits: parseList(values.bits, 'bits'), heldOut, sizes: values.quick ? QUICK : FULL, quick: values.quick };
}

/** Evaluates on the held-out domain and on each source domain's test split. */
function evaluate(model: tf.LayersModel, data: RotatedMnist): { heldOut: number; source: number } {
  const heldOut = accuracy(model, data.heldOut.x, data.heldOut.labels);
  const sources = data.sourceTest.map((split) => accuracy(model, split.x, split.labels));
  return { heldOut, source: sources.reduce((total, value) => total + value, 0) / sources.length };
}

async function runSeed(seed: number, bitWidths: readonly number[], data: RotatedMnist, configs: readonly ResolvedConfig[], sizes: Sizes): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  const x = tf.concat(data.train.map((split) => split.x)) as tf.Tensor2D;
  const y = tf.concat(data.train.map((split) => split.y)) as tf.Tensor2D;
  const calibration = x.slice([0, 0], [sizes.calibrationSize, -1]);
  const float = buildClassifier(sizes.hiddenUnits, 100 * seed);
  try {
    float.compile({ optimizer: tf.train.adam(sizes.floatPhase.learningRate), loss: 'categoricalCrossentropy' });
    let started = performance.now();
    await fitEpochs(float, x, y, sizes.floatPhase, new SeededRandom(seed));
    rows.push({ variant: 'full precision, pre-trained', bits: 32, seed, ...evaluate(float, data), frozen: undefined, seconds: (performance.now() - started) / 1000 });

    // The same fine-tuning budget as the quantized variants, in full precision.
    const tuned = buildClassifier(sizes.hiddenUnits, 100 * seed);
    try {
      tuned.setWeights(float.getWeights());
      tuned.compile({ optimizer: tf.train.adam(sizes.quantizedPhase.learningRate), loss: 'categoricalCrossentropy' });
      started = performance.now();
      await fitEpochs(tuned, x, y, sizes.quantizedPhase, new SeededRandom(1000 * seed));
      rows.push({ variant: 'full precision, fine-tuned', bits: 32, seed, ...evaluate(tuned, data), frozen: undefined, seconds: (performance.now() - started) / 1000 });
    } finally {
      tuned.dispose();
    }
    process.stderr.write(`seed ${seed}: full precision done\n`);

    for (const bits of bitWidths) {
      for (const [i, variant] of QUANTIZED_VARIANTS.entries()) {
        const model = await quantizeClassifier(float, bits, calibration);
        const optimizer = configs[i]!.createOptimizer(tf.train.adam(sizes.quantizedPhase.learningRate));
        const freezes = { frozen: 0, total: 0 };
        optimizer.telemetry.on('freeze', (event) => {
          freezes.total += 1;
          freezes.frozen += event.frozen ? 1 : 0;
        });
        try {
          model.compile({ optimizer, loss: 'categoricalCrossentropy' });
          started = performance.now();
          // Every variant of a seed and bit width gets the same data order.
          await fitEpochs(model, x, y, sizes.quantizedPhase, new SeededRandom(1000 * seed + bits));
          const seconds = (performance.now() - started) / 1000;
          rows.push({ variant: variant.name, bits, seed, ...evaluate(model, data), frozen: freezes.total === 0 ? undefined : freezes, seconds });
        } finally {
          optimizer.dispose();
          model.dispose();
        }
        process.stderr.write(`seed ${seed}: ${bits}-bit ${variant.name} done\n`);
      }
    }
  } finally {
    float.dispose();
    tf.dispose([x, y, calibration]);
  }
  return rows;
}

async function main(): Promise<void> {
  const started = performance.now();
  const options = readOptions();
  const backend = await selectBackend();
  tf.enableProdMode();

  const configs = await Promise.all(QUANTIZED_VARIANTS.map((variant) => loadConfig(fileURLToPath(new URL(variant.config, import.meta.url)))));
  const sourceAngles = ANGLES.filter((angle) => angle !== options.heldOut);
  const data = buildRotatedMnist({
    sourceAngles,
    heldOutAngle: options.heldOut,
    trainPerDomain: options.sizes.trainPerDomain,
    testPerDomain: options.sizes.testPerDomain,
    seed: DATA_SEED,
  });
  const { sizes } = options;

  console.log(`backend: ${backend.backend} (${backend.package})`);
  console.log(
    `domains: train on ${sourceAngles.join('°, ')}° (${sizes.trainPerDomain} images each), test on ${options.heldOut}° (${sizes.testPerDomain} images)${options.quick ? ' [quick]' : ''}`,
  );
  console.log(
    `model: 784-${sizes.hiddenUnits.join('-')}-10 MLP; full precision ${sizes.floatPhase.epochs} epochs at Adam ${sizes.floatPhase.learningRate}, then ` +
      `${sizes.quantizedPhase.epochs} epochs of quantized fine-tuning at Adam ${sizes.quantizedPhase.learningRate}, batch ${sizes.floatPhase.batchSize}`,
  );

  const rows: RunRow[] = [];
  try {
    for (const seed of options.seeds) {
      rows.push(...(await runSeed(seed, options.bits, data, configs, sizes)));
    }
  } finally {
    disposeRotatedMnist(data);
  }
  console.log(`\n${formatResults(rows, options.heldOut)}\n`);
  console.log(`total wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
