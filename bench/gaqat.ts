// Times QAT and GAQAT training steps against the steps they build on, interleaved in one process:
//   npx tsx bench/gaqat.ts [--rounds N] [--warmup N] [--quick]
import os from 'node:os';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';

import { HookedOptimizer } from '@gradhooks/core';
import { selectBackend } from '@gradhooks/core/node';
import { gaqat, quantizeModel, sam, sharpness } from '@gradhooks/plugin-gaqat';

import { runInterleaved } from './measure.js';
import { BATCH, CLASSES, crossEntropy, HIDDEN, INPUT, singleHeadModel, syntheticBatch, trainableVariablesOf } from './models.js';
import { stepTable } from './report.js';
import type { Variant } from './variants.js';

/** Learning rate of every optimizer; its value does not change the cost of a step. */
const LEARNING_RATE = 0.01;
const BITS = 4;

function readOptions(): { rounds: number; warmupRounds: number; quick: boolean } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const count = (value: string | undefined, fallback: number, name: string) => {
    const parsed = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new Error(`--${name} must be a positive integer, received '${value}'.`);
    }
    return parsed;
  };
  return {
    rounds: count(values.rounds, values.quick ? 5 : 100, 'rounds'),
    warmupRounds: count(values.warmup, values.quick ? 2 : 10, 'warmup'),
    quick: values.quick,
  };
}

/** Runs `optimizer.minimize` (the path of model.fit) and reads the loss, as every variant does. */
function minimizeAndRead(optimizer: tf.Optimizer, loss: () => tf.Scalar, variables: tf.Variable[]): void {
  const cost = optimizer.minimize(loss, true, variables)!;
  cost.dataSync();
  cost.dispose();
}

async function buildVariants(): Promise<{ variants: Variant[]; scales: number }> {
  const batch = syntheticBatch();
  const float = singleHeadModel('gaqat_bench_float');
  const floatVariables = trainableVariablesOf(float);
  // Every quantized variant has its own copy, so freezing in one cannot change another's work.
  const quantized = async (prefix: string, floatInput = false) => {
    const layers = floatInput ? { [`${prefix}_dense1`]: { inputBits: null } } : {};
    const model = await quantizeModel(singleHeadModel(prefix), { bits: BITS, layers, calibration: batch.x });
    return { loss: () => crossEntropy(batch.left, model.apply(batch.x) as tf.Tensor), variables: trainableVariablesOf(model) };
  };
  const [qat, hooked, withSharpness, withGaqat, withSam] = await Promise.all(['gb_qat', 'gb_hooked', 'gb_sharp', 'gb_gaqat', 'gb_sam'].map((prefix) => quantized(prefix)));
  const floatInput = await quantized('gb_float_input', true);
  const floatLoss = () => crossEntropy(batch.left, float.apply(batch.x) as tf.Tensor);
  const scales = qat!.variables.filter((variable) => variable.name.includes('quant_scale')).length;

  const plain = tf.train.sgd(LEARNING_RATE);
  const plainQat = tf.train.sgd(LEARNING_RATE);
  const plainFloatInput = tf.train.sgd(LEARNING_RATE);
  const hookedQat = new HookedOptimizer(tf.train.sgd(LEARNING_RATE));
  const sharpnessQat = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins: [sharpness({ rho: 0.05 })] });
  // K = 10 and τ = 0.3, as in the rotated-MNIST example, because GAQAT's paper (arXiv 2412.05551) does not publish its values.
  const gaqatQat = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins: [sharpness({ rho: 0.05 }), gaqat({ window: 10, threshold: 0.3 })] });
  const samQat = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins: [sam({ rho: 0.05 })] });

  const variants: Variant[] = [
    { key: 'fp', description: 'bare tfjs SGD, float MLP: minimize', baseline: undefined, target: undefined, step: () => minimizeAndRead(plain, floatLoss, floatVariables) },
    { key: 'qat', description: `bare tfjs SGD, ${BITS}-bit LSQ MLP: minimize`, baseline: 'fp', target: undefined, step: () => minimizeAndRead(plainQat, qat!.loss, qat!.variables) },
    {
      key: 'qat-float-input',
      description: `bare tfjs SGD, ${BITS}-bit LSQ MLP, model input not quantized`,
      baseline: 'fp',
      target: undefined,
      step: () => minimizeAndRead(plainFloatInput, floatInput.loss, floatInput.variables),
    },
    {
      key: 'qat-hooked',
      description: `HookedOptimizer, no plugins, ${BITS}-bit LSQ MLP`,
      baseline: 'qat',
      target: undefined,
      step: () => minimizeAndRead(hookedQat, hooked!.loss, hooked!.variables),
    },
    {
      key: 'qat-sharpness',
      description: 'QAT + sharpness objective (task + smoothness)',
      baseline: 'qat',
      target: undefined,
      step: () => minimizeAndRead(sharpnessQat, withSharpness!.loss, withSharpness!.variables),
    },
    {
      key: 'gaqat',
      description: 'QAT + sharpness + gaqat (K 10, tau 0.3)',
      baseline: 'qat-sharpness',
      target: 1.05,
      step: () => minimizeAndRead(gaqatQat, withGaqat!.loss, withGaqat!.variables),
    },
    { key: 'qat-sam', description: 'QAT + sam (perturbed gradient applied)', baseline: 'qat', target: undefined, step: () => minimizeAndRead(samQat, withSam!.loss, withSam!.variables) },
  ];
  return { variants, scales };
}

async function main(): Promise<number> {
  const options = readOptions();
  const selection = await selectBackend({ force: (process.env['GRADHOOKS_BACKEND'] as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
  tf.enableProdMode();
  const { variants, scales } = await buildVariants();
  const cpus = os.cpus();
  console.log('gradhooks GAQAT step benchmark');
  console.log(`  model: ${INPUT}-${HIDDEN.join('-')}-${CLASSES} MLP, batch ${BATCH}; quantized twin: ${BITS}-bit LSQ kernels and inputs on all 3 layers (${scales} step sizes)`);
  console.log(`  backend: ${selection.backend} (${selection.package}), tfjs ${tf.version.tfjs}`);
  console.log(`  Node ${process.version}, ${process.platform}/${process.arch}, ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? 'unknown model'}), load average ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`);
  console.log(`  ${options.quick ? 'quick mode: ' : ''}${options.warmupRounds} warm-up + ${options.rounds} timed rounds of ${variants.length} variants`);

  const { timings } = runInterleaved(variants, options.rounds, options.warmupRounds, (done, total) => {
    if (done % 10 === 0 || done === total) {
      process.stderr.write(`  rounds done: ${done}/${total}\n`);
    }
  });
  console.log('\nStep time, interleaved round-robin (ratios are against the baseline measured in the same rounds)\n');
  const { text, results } = stepTable(variants, timings);
  console.log(text);
  for (const result of results.filter((entry) => entry.withinTarget === false)) {
    console.log(`\nTarget missed: ${result.variant.key} ran at ${result.ratio!.toFixed(3)}× ${result.variant.baseline}, target ≤ ${result.variant.target}.`);
  }
  const growth = variants.filter((variant) => timings.get(variant.key)!.tensorGrowth > 0).map((variant) => variant.key);
  console.log(growth.length === 0 ? '\nNo variant changed the tensor count over its timed steps.' : `\nWARNING: tensor count grew in ${growth.join(', ')}.`);
  console.log(`load average at the end: ${os.loadavg().map((load) => load.toFixed(2)).join(' ')}`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  },
);
