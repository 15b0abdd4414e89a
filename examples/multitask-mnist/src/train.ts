import * as tf from '@tensorflow/tfjs';

import { createProgressDisplay } from '@gradhooks/cli';
import type { ResolvedConfig } from '@gradhooks/config';
import type { HookedOptimizer, Telemetry } from '@gradhooks/core';
import { createJsonlSink } from '@gradhooks/core/node';

import { FEATURES } from './data.js';
import type { MultiMnist, MultiMnistSplit } from './data.js';
import { buildMultiTaskModel } from './model.js';
import { createProgressReporter } from './progress.js';
import type { ProgressReporter } from './progress.js';

/** Training settings shared by every run, so runs differ only in their config file. */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  hiddenUnits: readonly [number, number];
  /** Seed of the model's initializers: every run starts from the same weights. */
  modelSeed: number;
}

/** Outcome of one training run. */
export interface RunResult {
  name: string;
  /** Plugin names of the run's config, in config order. */
  plugins: string[];
  /** Test accuracy of the left-digit head after the last epoch. */
  accuracyLeft: number;
  accuracyRight: number;
  /** Test accuracy of each head after each epoch, in epoch order. */
  accuracyPerEpoch: Array<{ left: number; right: number }>;
  /** Optimizer steps applied. */
  appliedSteps: number;
  /** Conflict summary of the aggregator's telemetry. */
  conflicts: ConflictSummary;
  /** Wall time of `model.fit`, in seconds. */
  trainSeconds: number;
  /** Absolute path of the telemetry JSONL file, or undefined when the config names none. */
  jsonl: string | undefined;
}

/** Summary of the `conflict` events of one run. */
export interface ConflictSummary {
  /** Steps that emitted a `conflict` event. */
  reportedSteps: number;
  /** Reported steps where at least one pair of objective gradients had a negative dot product. */
  conflictingSteps: number;
  /** Mean over reported steps of the mean pairwise cosine between objective gradients, or NaN when no step was reported. */
  meanCosine: number;
}

/**
 * Trains a fresh model with `model.fit` through a HookedOptimizer built from
 * `config`, writes the telemetry JSONL file the config names, and measures
 * test accuracy after every epoch, published as `metric` telemetry events so
 * that the run's report plots it. `progress` sets where the progress display
 * of `@gradhooks/cli` draws. Disposes the model and the optimizer before
 * returning.
 */
export async function trainRun(
  name: string,
  config: ResolvedConfig,
  data: MultiMnist,
  settings: TrainSettings,
  progress: ProgressReporter = createProgressReporter(),
): Promise<RunResult> {
  // At the representation level the heads read a FanOut of the shared representation.
  const model = buildMultiTaskModel({
    inputSize: FEATURES,
    hiddenUnits: settings.hiddenUnits,
    seed: settings.modelSeed,
    fanOut: config.level === 'representation',
  });
  const optimizer = config.createOptimizer(tf.train.adam(settings.learningRate), { model });
  const sink = config.telemetry.jsonl === undefined ? undefined : createJsonlSink(optimizer.telemetry, config.telemetry.jsonl);
  const conflicts = collectConflicts(optimizer.telemetry);

  try {
    model.compile({ optimizer, loss: ['categoricalCrossentropy', 'categoricalCrossentropy'] });
    const display = createProgressDisplay(optimizer, {
      epochs: settings.epochs,
      stepsPerEpoch: Math.ceil(data.train.size / settings.batchSize),
      label: name,
      stream: progress.stream,
      whenNotTerminal: progress.whenNotTerminal,
    });
    const accuracyPerEpoch: Array<{ left: number; right: number }> = [];
    const started = performance.now();
    try {
      // The pairs are already in seeded random order, and fit's own shuffle would use Math.random.
      await model.fit(data.train.x, [data.train.yLeft, data.train.yRight], {
        epochs: settings.epochs,
        batchSize: settings.batchSize,
        shuffle: false,
        verbose: 0,
        // The accuracy callback runs first, so the display's epoch line comes after the measurement.
        callbacks: [
          {
            onEpochEnd: async (epoch: number) => {
              accuracyPerEpoch.push(publishTestAccuracy(model, optimizer, data.test, epoch + 1));
            },
          },
          display.callbacks,
        ],
      });
    } finally {
      display.stop();
    }
    const trainSeconds = (performance.now() - started) / 1000;
    const accuracy = accuracyPerEpoch[accuracyPerEpoch.length - 1] ?? evaluateAccuracy(model, data.test);

    return {
      name,
      plugins: config.plugins.map((spec) => spec.definition.name),
      accuracyLeft: accuracy.left,
      accuracyRight: accuracy.right,
      accuracyPerEpoch,
      appliedSteps: optimizer.session.stepCount,
      conflicts: conflicts.summary(),
      trainSeconds,
      jsonl: sink?.path,
    };
  } finally {
    await sink?.close();
    optimizer.dispose();
    model.dispose();
  }
}

/**
 * Measures test accuracy per head and publishes it as two `metric` telemetry
 * events (`name: 'accuracy'`, `split: 'test'`, one per objective). One
 * forward pass over the test pairs: about 10 ms for 1,000 pairs on wasm.
 */
export function publishTestAccuracy(model: tf.LayersModel, optimizer: HookedOptimizer, split: MultiMnistSplit, epoch: number): { left: number; right: number } {
  const accuracy = evaluateAccuracy(model, split);
  const step = optimizer.session.stepCount;
  for (const objective of ['left', 'right'] as const) {
    optimizer.telemetry.publish('metric', { step, name: 'accuracy', objective, split: 'test', value: accuracy[objective], epoch });
  }
  return accuracy;
}

/** Returns the share of pairs in `split` whose left and right digits the model classifies correctly. */
export function evaluateAccuracy(model: tf.LayersModel, split: MultiMnistSplit): { left: number; right: number } {
  return tf.tidy(() => {
    const [left, right] = model.predict(split.x, { batchSize: 256 }) as tf.Tensor[];
    const accuracyOf = (probabilities: tf.Tensor, labels: tf.Tensor) =>
      tf.mean(tf.cast(tf.equal(tf.argMax(probabilities, 1), tf.argMax(labels, 1)), 'float32'));
    const values = tf.stack([accuracyOf(left!, split.yLeft), accuracyOf(right!, split.yRight)]).dataSync();
    return { left: values[0]!, right: values[1]! };
  });
}

/** Subscribes to `conflict` events and accumulates what the summary table needs. */
export function collectConflicts(telemetry: Telemetry): { summary(): ConflictSummary } {
  let reportedSteps = 0;
  let conflictingSteps = 0;
  let cosineSum = 0;
  telemetry.on('conflict', (event) => {
    reportedSteps += 1;
    if (event.conflicts > 0) {
      conflictingSteps += 1;
    }
    cosineSum += meanPairwiseCosine(event.cosines);
  });
  return {
    summary: () => ({
      reportedSteps,
      conflictingSteps,
      meanCosine: reportedSteps === 0 ? Number.NaN : cosineSum / reportedSteps,
    }),
  };
}

/** Returns the mean of the cosines above the diagonal, which with two objectives is their one cosine. */
function meanPairwiseCosine(cosines: readonly (readonly number[])[]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < cosines.length; i++) {
    for (let j = i + 1; j < cosines.length; j++) {
      sum += cosines[i]![j]!;
      pairs += 1;
    }
  }
  return pairs === 0 ? Number.NaN : sum / pairs;
}
