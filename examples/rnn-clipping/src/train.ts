import * as tf from '@tensorflow/tfjs';

import type { ResolvedConfig } from '@gradhooks/config';
import { HookedOptimizer } from '@gradhooks/core';
import type { Logger } from '@gradhooks/core';

import type { RowMnistSplit } from './data.js';
import { gradNormProbe } from './gradNormProbe.js';
import type { StepNorms } from './gradNormProbe.js';
import { buildIrnn, logitsCrossEntropy } from './model.js';

/** Training settings shared by every run, so runs differ only in their config file. */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  /** Learning rate of plain SGD, high enough that the unclipped run diverges. */
  learningRate: number;
  units: number;
  /** Seed of the model's initializers: every run starts from the same weights. */
  modelSeed: number;
}

/** Record of one call of the training step (one batch of `fit`). */
export interface BatchRecord {
  loss: number;
  applied: boolean;
  /** Global gradient norm before and after clipping, or NaN for a skipped step. */
  normBefore: number;
  normAfter: number;
}

/** Outcome of one training run. */
export interface RunResult {
  name: string;
  plugins: string[];
  batches: BatchRecord[];
  /** Steps the non-finite guard skipped, and how often its limit on consecutive skips was reached. */
  skippedSteps: number;
  limitEvents: number;
  /** Steps where a clipping plugin scaled the gradients down. */
  clippedSteps: number;
  /** Steps that ZClip counted as spikes (z-score above its threshold), 0 for the other runs. */
  spikes: number;
  testAccuracy: number;
  /** Wall time of `model.fit`, in seconds. */
  trainSeconds: number;
}

/** Drops the session's info lines (resolved options); warnings and errors still print. */
const quietLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (message, details) => console.warn(message, details ?? ''),
  error: (message, details) => console.error(message, details ?? ''),
};

/**
 * Trains a fresh IRNN with `model.fit` through a HookedOptimizer built from
 * `config` (plus a probe that records gradient norms) and measures test
 * accuracy. Disposes the model and the optimizer before returning.
 */
export async function trainRun(name: string, config: ResolvedConfig, data: { train: RowMnistSplit; test: RowMnistSplit }, settings: TrainSettings): Promise<RunResult> {
  const model = buildIrnn({ units: settings.units, seed: settings.modelSeed });
  let norms: StepNorms | undefined;
  const options = config.sessionOptions({ logger: quietLogger });
  const optimizer = new HookedOptimizer(tf.train.sgd(settings.learningRate), {
    ...options,
    plugins: [...(options.plugins ?? []), gradNormProbe((measured) => (norms = measured))],
  });
  let skippedSteps = 0;
  let limitEvents = 0;
  let clippedSteps = 0;
  let spikes = 0;
  optimizer.telemetry.on('skip', () => (skippedSteps += 1));
  optimizer.telemetry.on('state', (event) => {
    limitEvents += event.values['limitReached'] === true ? 1 : 0;
    spikes += event.values['spike'] === true ? 1 : 0;
  });
  optimizer.telemetry.on('clip', (event) => (clippedSteps += event.clipped ? 1 : 0));

  const batches: BatchRecord[] = [];
  try {
    model.compile({ optimizer, loss: logitsCrossEntropy });
    const started = performance.now();
    // The training images are already in seeded random order, and fit's own shuffle would use Math.random.
    await model.fit(data.train.x, data.train.y, {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onBatchEnd: async (_batch, logs) => {
          batches.push({
            loss: logs?.['loss'] ?? Number.NaN,
            applied: norms !== undefined,
            normBefore: norms?.before ?? Number.NaN,
            normAfter: norms?.after ?? Number.NaN,
          });
          norms = undefined;
        },
      },
    });
    const trainSeconds = (performance.now() - started) / 1000;
    return {
      name,
      plugins: config.plugins.map((plugin) => plugin.definition.name),
      batches,
      skippedSteps,
      limitEvents,
      clippedSteps,
      spikes,
      testAccuracy: accuracy(model, data.test),
      trainSeconds,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/** Share of test images whose largest logit is the right class. */
function accuracy(model: tf.LayersModel, split: RowMnistSplit): number {
  const predicted = tf.tidy(() => tf.argMax(model.predict(split.x, { batchSize: 256 }) as tf.Tensor, 1).dataSync());
  let correct = 0;
  predicted.forEach((label, i) => (correct += label === split.labels[i] ? 1 : 0));
  return correct / split.size;
}
