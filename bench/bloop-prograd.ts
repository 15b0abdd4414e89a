// Times EMA-Bloop and ProGrad steps against a plain two-objective sum step, interleaved in one process.
// Run with: npx tsx bench/bloop-prograd.ts [--rounds N] [--warmup N]
import os from 'node:os';
import { parseArgs } from 'node:util';

import * as tf from '@tensorflow/tfjs';

import { HookedOptimizer } from '@gradhooks/core';
import type { PluginSpec } from '@gradhooks/core';
import { selectBackend } from '@gradhooks/core/node';
import { emaBloop } from '@gradhooks/plugin-bloop';
import { klToReference, prograd } from '@gradhooks/plugin-prograd';

import { runInterleaved } from './measure.js';
import { BATCH, CLASSES, crossEntropy, HIDDEN, INPUT, singleHeadModel, syntheticBatch, trainableVariablesOf, twoHeadModel } from './models.js';
import type { Batch } from './models.js';
import { formatTable, stepTable } from './report.js';
import { median } from './stats.js';
import type { Variant } from './variants.js';

/** Learning rate of every optimizer; its value does not change the cost of a step. */
const LEARNING_RATE = 0.01;
/** Telemetry period that makes only the first step a reporting step, so plugins skip their telemetry reads. */
const NEVER = 1_000_000_000;
/**
 * Returns a step function for `optimizer` whose `pluginMs` lists the
 * milliseconds each step spent inside plugin taps, from the session's `step` events.
 */
function timedSteps(optimizer: HookedOptimizer, step: () => void): (() => void) & { pluginMs: number[] } {
  const samples: number[] = [];
  optimizer.telemetry.on('step', (event) => samples.push(Object.values(event.pluginMs).reduce((total, value) => total + value, 0)));
  return Object.assign(() => step(), { pluginMs: samples });
}
/** Largest step-time ratio to the plain sum step of the same objectives that the project aims for. */
const TARGET = 1.05;

interface Settings {
  rounds: number;
  warmupRounds: number;
}

function readSettings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv].filter((arg) => arg !== '--'),
    options: { rounds: { type: 'string', default: '60' }, warmup: { type: 'string', default: '8' } },
    strict: true,
  });
  const count = (name: string, text: string, minimum: number) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum) {
      throw new Error(`Invalid value '${text}' for --${name}: expected an integer of at least ${minimum}.`);
    }
    return value;
  };
  return { rounds: count('rounds', values.rounds, 1), warmupRounds: count('warmup', values.warmup, 0) };
}

/**
 * Bloop variants: the two-head model, `left` as the main objective and
 * `right` as the auxiliary one. Every variant runs two gradient passes, like
 * its baseline, so the ratio measures the plugin alone.
 */
function bloopVariants(batch: Batch): Variant[] {
  const model = twoHeadModel('bench_bloop', { fanOut: false });
  const variables = trainableVariablesOf(model);
  const forward = () => model.apply(batch.x) as tf.Tensor[];
  const objectives = {
    left: () => crossEntropy(batch.left, forward()[0]!),
    right: () => crossEntropy(batch.right, forward()[1]!),
  };
  const stepper = (plugins: readonly PluginSpec[], withTelemetry = false) => {
    const optimizer = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins, telemetry: { every: withTelemetry ? 1 : NEVER } });
    return timedSteps(optimizer, () => optimizer.step(objectives, { variables }));
  };
  const bloop = (options: Omit<Parameters<typeof emaBloop>[0] & object, 'main' | 'auxiliary'> = {}) => [emaBloop({ main: 'left', auxiliary: 'right', ...options })];
  return [
    {
      key: 'sum-two-head',
      description: 'HookedOptimizer, no plugins, left + right: step',
      baseline: undefined,
      target: undefined,
      step: stepper([]),
    },
    { key: 'bloop', description: 'ema-bloop, global scope (default)', baseline: 'sum-two-head', target: TARGET, step: stepper(bloop()) },
    {
      key: 'bloop-per-variable',
      description: 'ema-bloop, per-variable scope',
      baseline: 'sum-two-head',
      target: TARGET,
      step: stepper(bloop({ scope: 'per-variable' })),
    },
    {
      key: 'bloop-barrier',
      description: 'ema-bloop, dynamic-barrier variant',
      baseline: 'sum-two-head',
      target: TARGET,
      step: stepper(bloop({ variant: 'dynamic-barrier' })),
    },
    {
      key: 'bloop-ema-pcgrad',
      description: 'ema-bloop, ema-pcgrad variant (two EMAs)',
      baseline: 'sum-two-head',
      target: TARGET,
      step: stepper(bloop({ variant: 'ema-pcgrad' })),
    },
    {
      key: 'bloop-telemetry',
      description: 'ema-bloop, telemetry read every step',
      baseline: 'sum-two-head',
      target: undefined,
      step: stepper(bloop(), true),
    },
  ];
}

/**
 * ProGrad variants: the single-head MLP with a cross-entropy objective and a
 * KL objective to the logits of a second, fixed MLP computed once.
 */
function progradVariants(batch: Batch): { variants: Variant[]; dispose: () => void } {
  const model = singleHeadModel('bench_prograd');
  const variables = trainableVariablesOf(model);
  const reference = singleHeadModel('bench_prograd_reference');
  const referenceLogits = tf.tidy(() => tf.mul(reference.predict(batch.x) as tf.Tensor, 3));
  const objectives = {
    task: () => crossEntropy(batch.left, model.apply(batch.x) as tf.Tensor),
    general: () => klToReference(model.apply(batch.x) as tf.Tensor, referenceLogits),
  };
  const stepper = (plugins: readonly PluginSpec[]) => {
    const optimizer = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins, telemetry: { every: NEVER } });
    return timedSteps(optimizer, () => optimizer.step(objectives, { variables }));
  };
  const single = tf.train.sgd(LEARNING_RATE);
  return {
    variants: [
      {
        key: 'one-pass',
        description: 'bare tfjs SGD, MLP, task + general on one forward pass: minimize',
        baseline: undefined,
        target: undefined,
        step: () => {
          const summed = () => {
            const logits = model.apply(batch.x) as tf.Tensor;
            return tf.add(crossEntropy(batch.left, logits), klToReference(logits, referenceLogits)) as tf.Scalar;
          };
          const cost = single.minimize(summed, true, variables)!;
          cost.dataSync();
          cost.dispose();
        },
      },
      {
        key: 'sum-task-kl',
        description: 'HookedOptimizer, no plugins, task + general: step',
        baseline: 'one-pass',
        target: undefined,
        step: stepper([]),
      },
      {
        key: 'prograd',
        description: 'prograd, per-variable scope (default)',
        baseline: 'sum-task-kl',
        target: TARGET,
        step: stepper([prograd({ task: 'task', general: 'general' })]),
      },
      {
        key: 'prograd-global',
        description: 'prograd, global scope',
        baseline: 'sum-task-kl',
        target: TARGET,
        step: stepper([prograd({ task: 'task', general: 'general', scope: 'global' })]),
      },
    ],
    dispose: () => referenceLogits.dispose(),
  };
}

/**
 * Formats the median time each variant spent inside plugin taps, and that
 * time over its baseline's median step time: an estimate of the ratio that
 * the machine's load disturbs less than the ratio of two step times.
 */
function pluginTable(variants: readonly Variant[], timings: ReturnType<typeof runInterleaved>['timings'], rounds: number): string {
  const rows = variants
    .filter((variant) => variant.baseline !== undefined && 'pluginMs' in variant.step)
    .map((variant) => ({ variant, pluginMs: median((variant.step as unknown as { pluginMs: number[] }).pluginMs.slice(-rounds)) }))
    .filter(({ pluginMs }) => pluginMs > 0)
    .map(({ variant, pluginMs }) => {
      const baselineMs = median(timings.get(variant.baseline!)!.milliseconds);
      return [variant.key, pluginMs.toFixed(2), `${(1 + pluginMs / baselineMs).toFixed(3)} × ${variant.baseline}`];
    });
  return formatTable(['variant', 'median ms in plugin taps', '1 + plugin ms / baseline median'], rows);
}

async function main(): Promise<void> {
  const settings = readSettings(process.argv.slice(2));
  const selection = await selectBackend({ force: (process.env['GRADHOOKS_BACKEND'] as 'wasm' | 'cpu' | undefined) ?? 'wasm' });
  const batch = syntheticBatch();
  const groups = [
    { title: 'EMA-Bloop (two-head model, objectives left and right)', variants: bloopVariants(batch), dispose: () => {} },
    { title: 'ProGrad (MLP, objectives task and general)', ...progradVariants(batch) },
  ];

  console.log('gradhooks EMA-Bloop and ProGrad step benchmark');
  console.log(`  models: ${INPUT}-${HIDDEN.join('-')} trunk, two ${CLASSES}-way heads (Bloop); ${INPUT}-${HIDDEN.join('-')}-${CLASSES} MLP (ProGrad); batch ${BATCH}`);
  console.log(`  backend: ${selection.backend} (${selection.package}), tfjs ${tf.version.tfjs}`);
  const cpus = os.cpus();
  console.log(`  Node ${process.version}, ${process.platform}/${process.arch}, ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? 'unknown model'})`);
  console.log(`  ${settings.warmupRounds} warm-up + ${settings.rounds} timed rounds per group; variants interleaved round by round in a seeded order`);

  let missed = 0;
  for (const group of groups) {
    process.stderr.write(`  timing: ${group.title}\n`);
    const { timings, tensorsAfterWarmup, tensorsAtEnd } = runInterleaved(group.variants, settings.rounds, settings.warmupRounds);
    const { text, results } = stepTable(group.variants, timings);
    console.log(`\n${group.title}\n\n${text}\n`);
    console.log(`Time inside the plugins' taps (from the session's step events; the last ${settings.rounds} steps of each variant):\n`);
    console.log(pluginTable(group.variants, timings, settings.rounds));
    console.log('');
    for (const result of results.filter((entry) => entry.withinTarget === false)) {
      missed += 1;
      console.log(`Target missed: ${result.variant.key} ran at ${result.ratio!.toFixed(3)}× ${result.variant.baseline}, target ≤ ${result.variant.target}.`);
    }
    const growing = group.variants.filter((variant) => timings.get(variant.key)!.tensorGrowth > 0);
    console.log(
      growing.length === 0
        ? `tf.memory().numTensors: ${tensorsAfterWarmup} after warm-up, ${tensorsAtEnd} at the end; no variant changed it over its timed steps.`
        : `WARNING: ${growing.map((variant) => variant.key).join(', ')} left tensors behind over the timed steps.`,
    );
    group.dispose();
  }
  if (missed > 0) {
    console.log(`\n${missed} variant(s) missed the ${TARGET}× target.`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
