// Entry point of `pnpm bench`: times gradhooks training steps against plain tfjs steps in one process.
import { writeFileSync } from 'node:fs';
import os from 'node:os';

import * as tf from '@tensorflow/tfjs';

import { backendCandidates, selectBackend } from '@gradhooks/core/node';
import type { BackendCandidate } from '@gradhooks/core/node';

import { runBreakdown } from './breakdown.js';
import { runInterleaved } from './measure.js';
import { BATCH, CLASSES, HIDDEN, INPUT, syntheticBatch } from './models.js';
import { readOptions, usage } from './options.js';
import type { BenchOptions } from './options.js';
import { breakdownTable, stepTable } from './report.js';
import { buildVariants } from './variants.js';
import type { Variant } from './variants.js';

async function main(): Promise<number> {
  const options = readOptions(process.argv.slice(2), process.env);
  if (options.help) {
    console.log(usage);
    return 0;
  }

  const selection = await selectBackend({ force: backendFromEnvironment() });
  const batch = syntheticBatch();
  const allVariants = buildVariants(batch);
  if (options.list) {
    for (const variant of allVariants) {
      console.log(`${variant.key.padEnd(24)}${variant.description}`);
    }
    return 0;
  }
  const variants = selectVariants(allVariants, options.variants);

  let backendDetails = '';
  if (selection.backend === 'wasm') {
    const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true ? 'on' : 'off';
    const threads = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true ? 'on' : 'off';
    backendDetails = `, SIMD ${simd}, threads ${threads}`;
  }
  printEnvironment(`${selection.backend} (${selection.package}${backendDetails})`, options, variants);

  let lastReported = 0;
  const { timings, orders, tensorsAfterWarmup, tensorsAtEnd } = runInterleaved(variants, options.rounds, options.warmupRounds, (done, total) => {
    const percent = Math.floor((100 * done) / total);
    if (percent >= lastReported + 10 || done === total) {
      lastReported = percent;
      process.stderr.write(`  rounds done: ${done}/${total}\n`);
    }
  });

  if (options.samplesFile !== undefined) {
    const samples = Object.fromEntries([...timings].map(([key, entry]) => [key, entry.milliseconds]));
    writeFileSync(options.samplesFile, `${JSON.stringify({ backend: selection.backend, rounds: options.rounds, samples, orders })}\n`);
  }

  console.log('\nStep time, interleaved round-robin (ratios are against the baseline measured in the same rounds)\n');
  const { text, results } = stepTable(variants, timings);
  console.log(text);

  const missed = results.filter((result) => result.withinTarget === false);
  for (const result of missed) {
    console.log(`\nTarget missed: ${result.variant.key} ran at ${result.ratio!.toFixed(3)}× ${result.variant.baseline}, target ≤ ${result.variant.target}.`);
  }

  console.log(`\ntf.memory().numTensors: ${tensorsAfterWarmup} after the warm-up rounds, ${tensorsAtEnd} after the timed rounds.`);
  let leaking = false;
  for (const variant of variants) {
    const entry = timings.get(variant.key)!;
    if (entry.tensorGrowth > 0) {
      leaking = true;
      console.log(
        `WARNING: ${variant.key} left ${entry.tensorGrowth} tensor(s) over ${entry.milliseconds.length} timed steps (${entry.growingSteps} steps grew the count).`,
      );
    }
  }
  if (!leaking) {
    console.log('No variant changed the tensor count over its timed steps.');
  }

  if (options.breakdownSteps > 0) {
    const warmupSteps = Math.min(options.warmupRounds, 5);
    process.stderr.write(`  breakdown: ${warmupSteps} warm-up + ${options.breakdownSteps} timed steps\n`);
    const before = tf.memory().numTensors;
    const phases = runBreakdown(batch, options.breakdownSteps, warmupSteps);
    console.log(`\nWhere the time goes: median of each phase over ${options.breakdownSteps} steps\n`);
    console.log(breakdownTable(phases));
    console.log(`\ntf.memory().numTensors around the breakdown: ${before} before, ${tf.memory().numTensors} after (models and optimizers it built included).`);
  }
  return 0;
}

function backendFromEnvironment(): BackendCandidate {
  const value = process.env['GRADHOOKS_BACKEND'];
  if (value === undefined || value === '') {
    return 'wasm';
  }
  if (!(backendCandidates as readonly string[]).includes(value)) {
    throw new Error(`Invalid GRADHOOKS_BACKEND '${value}': expected one of ${backendCandidates.join(', ')}, or unset it for wasm.`);
  }
  return value as BackendCandidate;
}

/** Returns the requested variants in table order, with the baselines they are compared to. */
function selectVariants(all: readonly Variant[], requested: readonly string[] | undefined): Variant[] {
  if (requested === undefined) {
    return [...all];
  }
  const known = new Set(all.map((variant) => variant.key));
  const unknown = requested.filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw new Error(`Unknown variant(s): ${unknown.join(', ')}. Known variants: ${[...known].join(', ')}.`);
  }
  const selected = new Set(requested);
  for (const variant of all) {
    if (selected.has(variant.key) && variant.baseline !== undefined) {
      selected.add(variant.baseline);
    }
  }
  return all.filter((variant) => selected.has(variant.key));
}

function printEnvironment(backend: string, options: BenchOptions, variants: readonly Variant[]): void {
  const cpus = os.cpus();
  console.log('gradhooks step benchmark');
  console.log(`  model: ${INPUT}-${HIDDEN.join('-')}-${CLASSES} MLP, batch ${BATCH}; two-head model: ${INPUT}-${HIDDEN.join('-')} trunk + two ${CLASSES}-way heads`);
  console.log(`  backend: ${backend}, tfjs ${tf.version.tfjs}`);
  console.log(`  Node ${process.version}, ${process.platform}/${process.arch}, ${os.availableParallelism()} CPUs available (${cpus[0]?.model.trim() ?? 'unknown model'})`);
  console.log(`  ${options.quick ? 'quick mode: ' : ''}${options.warmupRounds} warm-up + ${options.rounds} timed rounds of ${variants.length} variant${variants.length === 1 ? '' : 's'}`);
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
