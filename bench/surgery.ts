// Entry point of `pnpm bench:surgery`: step time of every aggregator against the weighted-sum step of the
// same model, for K = 2, 4 and 8 objectives at both levels, and the aggregation math alone on K vectors of 1M values.
import os from 'node:os';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';

import type { GradientLevel } from '@gradhooks/core';
import { selectBackend } from '@gradhooks/core/node';

import { runInterleaved } from './measure.js';
import { stepTable } from './report.js';
import { buildBreakdownVariants, buildMathVariants } from './surgeryMath.js';
import { buildSurgeryVariants } from './surgerySteps.js';
import type { Variant } from './variants.js';

const usage = `Usage: pnpm bench:surgery [options]      (same as: tsx bench/surgery.ts [options])

Times every aggregator of @gradhooks/plugin-surgery. Steps: a 784-256-128 trunk
with K ten-way heads at batch 128, each aggregator against the weighted-sum step
of the same model and level, interleaved round by round. Math: each aggregator's
aggregate tap on K gradient vectors of 1M float32 values, against one pass
reading them (their sum).

Options:
  --ks 2,4,8          objective counts (default 2,4,8)
  --levels L,...      parameter and/or representation (default both)
  --methods A,B,...   aggregators to time (default all)
  --rounds N          timed rounds (default 12)
  --warmup N          untimed warm-up rounds (default 2)
  --skip-steps        time the math only
  --skip-math         time the steps only
  --breakdown         also time the parts of the aggregation of 8 vectors of 1M values
  --quick             smoke run: 2 rounds, 1 warm-up round
  --help              print this help and exit`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      ks: { type: 'string', default: '2,4,8' },
      levels: { type: 'string', default: 'parameter,representation' },
      methods: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      'skip-steps': { type: 'boolean', default: false },
      'skip-math': { type: 'boolean', default: false },
      breakdown: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const ks = values.ks.split(',').map(Number);
  const levels = values.levels.split(',') as GradientLevel[];
  const only = values.methods?.split(',');
  const rounds = Number(values.rounds ?? (values.quick ? 2 : 12));
  const warmup = Number(values.warmup ?? (values.quick ? 1 : 2));

  const selection = await selectBackend({ force: (process.env['GRADHOOKS_BACKEND'] as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
  console.log(`# Aggregator benchmarks\n`);
  console.log(`backend ${selection.backend}; ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}; Node.js ${process.version}; ${rounds} timed rounds after ${warmup} warm-up rounds\n`);

  let missed = 0;
  const report = (title: string, variants: readonly Variant[]) => {
    const { timings, tensorsAfterWarmup, tensorsAtEnd } = runInterleaved(variants, rounds, warmup);
    const { text, results } = stepTable(variants, timings);
    console.log(`## ${title}\n\n${text}\n`);
    for (const result of results.filter((entry) => entry.withinTarget === false)) {
      missed += 1;
      console.log(`Target missed: ${result.variant.key} ran at ${result.ratio!.toFixed(3)}× ${result.variant.baseline}, target ≤ ${result.variant.target}.`);
    }
    if (tensorsAtEnd !== tensorsAfterWarmup) {
      console.log(`WARNING: tf.memory().numTensors went from ${tensorsAfterWarmup} to ${tensorsAtEnd} over the timed rounds.`);
    }
    console.log('');
  };

  if (!values['skip-steps']) {
    for (const count of ks) {
      const { variants, cleanup } = buildSurgeryVariants(count, levels, only);
      try {
        report(`Training steps, K = ${count}`, variants);
      } finally {
        cleanup();
      }
    }
  }
  if (!values['skip-math']) {
    for (const count of ks) {
      const { variants, cleanup } = buildMathVariants(count, only);
      try {
        report(`Aggregation alone, K = ${count} vectors of 1M values`, variants);
      } finally {
        cleanup();
      }
    }
  }
  if (values.breakdown) {
    const { variants, cleanup } = buildBreakdownVariants(8);
    try {
      report('Parts of the aggregation of 8 vectors of 1M values (no targets)', variants);
    } finally {
      cleanup();
    }
  }
  console.log(missed === 0 ? 'Every target was met.' : `${missed} target(s) missed.`);
  tf.disposeVariables();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  },
);
