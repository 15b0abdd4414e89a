import * as tf from '@tensorflow/tfjs';

import type { ResolvedConfig } from '@gradhooks/config';

import { FEATURES } from '../../multitask-mnist/src/data.js';
import type { MultiMnist, MultiMnistSplit } from '../../multitask-mnist/src/data.js';
import { buildMultiTaskModel } from '../../multitask-mnist/src/model.js';

/** Training settings shared by every run, so runs differ only in their config file and seed. */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  hiddenUnits: readonly [number, number];
}

/** Summary of Bloop's telemetry over a run: means over its reporting steps. */
export interface BloopSummary {
  reportedSteps: number;
  /** Mean cosine between the auxiliary gradient and the EMA of the main gradient. */
  meanCosine: number;
  /** Share of reporting steps where that cosine was negative (the auxiliary gradient conflicted with the EMA). */
  conflictShare: number;
  /** Mean ratio r removed along the EMA. */
  meanRatio: number;
}

/** Outcome of one training run. */
export interface RunResult {
  /** Test accuracy of the left-digit head: the main task. */
  accuracyLeft: number;
  /** Test accuracy of the right-digit head: the auxiliary task. */
  accuracyRight: number;
  /** Wall time of `model.fit`, in seconds. */
  trainSeconds: number;
  /** Bloop's telemetry, when the run used it. */
  bloop: BloopSummary | undefined;
}

/**
 * Trains a fresh two-head model (`left`, `right`) with `model.fit` through a
 * HookedOptimizer built from `config`, then measures test accuracy per head.
 * The data are already in seeded random order, so `fit` does not shuffle
 * (its shuffle uses Math.random). Disposes the model and the optimizer.
 */
export async function trainRun(config: ResolvedConfig, data: MultiMnist, settings: TrainSettings, modelSeed: number): Promise<RunResult> {
  const model = buildMultiTaskModel({ inputSize: FEATURES, hiddenUnits: settings.hiddenUnits, seed: modelSeed });
  const optimizer = config.createOptimizer(tf.train.adam(settings.learningRate), { model });
  const cosines: number[] = [];
  const ratios: number[] = [];
  optimizer.telemetry.on('state', (event) => {
    if (event.plugin === 'ema-bloop') {
      cosines.push(event.values['cosine'] as number);
      ratios.push(event.values['ratio'] as number);
    }
  });
  try {
    model.compile({ optimizer, loss: ['categoricalCrossentropy', 'categoricalCrossentropy'] });
    const started = performance.now();
    await model.fit(data.train.x, [data.train.yLeft, data.train.yRight], {
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      shuffle: false,
      verbose: 0,
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const accuracy = evaluateAccuracy(model, data.test);
    return {
      accuracyLeft: accuracy.left,
      accuracyRight: accuracy.right,
      trainSeconds,
      bloop: cosines.length === 0 ? undefined : summarize(cosines, ratios),
    };
  } finally {
    optimizer.dispose();
    model.dispose();
  }
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

function summarize(cosines: readonly number[], ratios: readonly number[]): BloopSummary {
  const mean = (values: readonly number[]) => values.reduce((total, value) => total + value, 0) / values.length;
  return {
    reportedSteps: cosines.length,
    meanCosine: mean(cosines),
    conflictShare: cosines.filter((cosine) => cosine < 0).length / cosines.length,
    meanRatio: mean(ratios),
  };
}
