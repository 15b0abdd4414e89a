// Times one training step with each plugin of @gradhooks/plugin-clip against a plain tfjs step, in one process.
// Run with `npx tsx bench/clip.ts [--rounds N] [--warmup N] [--only agc,zclip]`; GRADHOOKS_BACKEND=cpu forces the
// pure-JS backend.
import os from 'node:os';

import * as tf from '@tensorflow/tfjs';

import { HookedOptimizer } from '@gradhooks/core';
import type { PluginSpec } from '@gradhooks/core';
import { selectBackend } from '@gradhooks/core/node';
import { accumulate, agc, autoclip, clipGlobalNorm, clipNorm, clipValue, emaWeights, nonfinite, zclip } from '@gradhooks/plugin-clip';

/** Batch size and layer widths of the reference MLP (784-256-128-10). */
const BATCH = 128;
const LAYERS = [784, 256, 128, 10] as const;
/** Small enough that the shared weights stay well-behaved over every variant's steps; it does not change the cost of a step. */
const LEARNING_RATE = 1e-3;

interface Variant {
  key: string;
  description: string;
  /** Largest ratio to the plain step the project aims for; undefined for diagnostic rows. */
  target: number | undefined;
  step(): void;
  /** Milliseconds the plugin's taps took in each step so far, from the session's `step` events. */
  pluginMs?: number[];
}

function readOptions(argv: readonly string[]): { rounds: number; warmup: number; only: string[] | undefined } {
  const value = (flag: string, fallback: number) => {
    const index = argv.indexOf(flag);
    if (index < 0) {
      return fallback;
    }
    const parsed = Number(argv[index + 1]);
    if (!Number.isInteger(parsed) || parsed < 1) {
      throw new RangeError(`${flag} needs a positive integer, received '${argv[index + 1]}'.`);
    }
    return parsed;
  };
  const only = argv.indexOf('--only');
  return { rounds: value('--rounds', 60), warmup: value('--warmup', 8), only: only < 0 ? undefined : (argv[only + 1] ?? '').split(',') };
}

/** Builds the MLP's variables with seeded initial values and one fixed synthetic batch. */
function problem() {
  const variables = LAYERS.slice(1).flatMap((units, i) => [
    tf.variable(tf.mul(tf.randomNormal([LAYERS[i]!, units], 0, 1, 'float32', 10 + i), Math.sqrt(2 / LAYERS[i]!)), true, `bench_clip/dense${i}/kernel`),
    tf.variable(tf.zeros([units]), true, `bench_clip/dense${i}/bias`),
  ]);
  const x = tf.randomUniform([BATCH, LAYERS[0]], 0, 1, 'float32', 1);
  const labels = tf.oneHot(tf.randomUniform([BATCH], 0, LAYERS[3], 'int32', 2) as tf.Tensor1D, LAYERS[3]).toFloat();
  const loss = () =>
    tf.tidy(() => {
      let h: tf.Tensor = x;
      for (let i = 0; i < LAYERS.length - 1; i++) {
        h = tf.add(tf.matMul(h, variables[2 * i]!), variables[2 * i + 1]!);
        if (i < LAYERS.length - 2) {
          h = tf.relu(h);
        }
      }
      return tf.losses.softmaxCrossEntropy(labels, h) as tf.Scalar;
    });
  return { variables, loss };
}

function buildVariants(): Variant[] {
  const { variables, loss } = problem();
  const plain = tf.train.sgd(LEARNING_RATE);
  const minimizeAndRead = (optimizer: tf.Optimizer) => {
    const cost = optimizer.minimize(loss, true, variables)!;
    cost.dataSync();
    cost.dispose();
  };
  const hooked = (key: string, description: string, target: number | undefined, plugins: PluginSpec[]): Variant => {
    // Only the first step reports telemetry, so no plugin computes report-only numbers while timed.
    // `step` events, which carry the time spent in each plugin, are published on every step.
    const optimizer = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins, telemetry: { every: 1e9 } });
    const pluginMs: number[] = [];
    optimizer.telemetry.on('step', (event) => pluginMs.push(Object.values(event.pluginMs).reduce((total, value) => total + value, 0)));
    return { key, description, target, step: () => minimizeAndRead(optimizer), pluginMs };
  };
  return [
    { key: 'plain', description: 'bare tfjs SGD: minimize', target: undefined, step: () => minimizeAndRead(plain) },
    hooked('hooked', 'HookedOptimizer, no plugins (guard on)', undefined, []),
    hooked('clip-value', 'clip-value, max 1', 1.05, [clipValue({ max: 1 })]),
    hooked('clip-norm', 'clip-norm, maxNorm 1', 1.05, [clipNorm({ maxNorm: 1 })]),
    hooked('clip-global-norm', 'clip-global-norm, maxNorm 1', 1.05, [clipGlobalNorm({ maxNorm: 1 })]),
    hooked('agc', 'agc, clipping 0.01', 1.1, [agc({ clipping: 0.01 })]),
    hooked('autoclip', 'autoclip, percentile 10', 1.05, [autoclip()]),
    hooked('zclip', 'zclip, reference defaults', 1.05, [zclip()]),
    hooked('nonfinite', 'nonfinite, policy skip', undefined, [nonfinite()]),
    hooked('accumulate', 'accumulate, steps 4 (per micro-batch)', undefined, [accumulate({ steps: 4 })]),
    hooked('ema-weights', 'ema-weights, decay 0.999', undefined, [emaWeights({ decay: 0.999 })]),
  ];
}

/** xorshift32 generator for the order of variants within a round. */
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

/**
 * Runs every variant once per round, in an order shuffled per round with a
 * fixed seed, so slow drift of a shared machine falls on all variants alike.
 * Returns each variant's step times in round order.
 */
function measure(variants: readonly Variant[], rounds: number, warmup: number): { times: Map<string, number[]>; tensorGrowth: number } {
  const times = new Map(variants.map((variant) => [variant.key, [] as number[]]));
  const random = generator(2024);
  let afterWarmup = tf.memory().numTensors;
  for (let round = 0; round < warmup + rounds; round++) {
    if (round === warmup) {
      afterWarmup = tf.memory().numTensors;
    }
    const order = variants.slice();
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const variant of order) {
      const started = performance.now();
      variant.step();
      const elapsed = performance.now() - started;
      if (round >= warmup) {
        times.get(variant.key)!.push(elapsed);
      }
    }
  }
  return { times, tensorGrowth: tf.memory().numTensors - afterWarmup };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Median over rounds of the ratio of two variants' times in the same round. */
function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((value, round) => value / b[round]!));
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  const forced = process.env['GRADHOOKS_BACKEND'] as 'wasm' | 'cpu' | undefined;
  const backend = await selectBackend(forced === undefined ? {} : { force: forced });
  // plain and hooked are the denominators of the ratios, so they always run.
  const variants = buildVariants().filter((variant) => options.only === undefined || ['plain', 'hooked', ...options.only].includes(variant.key));
  console.log(`backend ${backend.backend}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`);
  console.log(`MLP ${LAYERS.join('-')}, batch ${BATCH}, SGD; ${options.rounds} timed rounds after ${options.warmup} warm-up rounds, variants interleaved\n`);
  const { times, tensorGrowth } = measure(variants, options.rounds, options.warmup);

  const plain = times.get('plain')!;
  const hooked = times.get('hooked')!;
  const plainMedian = median(plain);
  const header = '| variant | what runs | median ms | × plain | × hooked | plugin ms | 1 + plugin / plain | target (× plain) |';
  const rows = variants.map((variant) => {
    const own = times.get(variant.key)!;
    const ratio = pairedRatio(own, plain);
    const target = variant.target === undefined ? '-' : `≤ ${variant.target.toFixed(2)} ${ratio <= variant.target ? 'met' : 'missed'}`;
    // The timed rounds' share of the plugin times: the warm-up steps come first.
    const pluginMs = variant.pluginMs === undefined ? undefined : median(variant.pluginMs.slice(-options.rounds));
    const pluginColumns = pluginMs === undefined ? '- | -' : `${pluginMs.toFixed(2)} | ${(1 + pluginMs / plainMedian).toFixed(3)}`;
    return `| ${variant.key} | ${variant.description} | ${median(own).toFixed(1)} | ${ratio.toFixed(3)} | ${pairedRatio(own, hooked).toFixed(3)} | ${pluginColumns} | ${target} |`;
  });
  console.log([header, '| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |', ...rows].join('\n'));
  console.log(`\nchange of tf.memory().numTensors over the timed rounds: ${tensorGrowth}`);
}

await main();
