import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';

import type { ObjectiveResult, ObjectiveSources } from './gradients.js';

type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/**
 * Public but undocumented fields of tfjs-layers 4.22's LayersModel that the
 * train function of `fit` reads on every call of the loss closure. The
 * package pins tfjs to 4.22.0 and tests this behaviour, so a tfjs upgrade that
 * changes these fields fails the tests instead of training silently wrong.
 */
interface TrainingFields {
  lossFunctions: LossFunction[];
  metricsTensors: Array<[LossFunction, number]>;
  outputNames: string[];
  layers: Array<{ losses: unknown[] }>;
  calculateLosses(): tf.Scalar[];
}

/**
 * Returns the model whose train function `fit` runs: a `tf.Sequential`
 * delegates `compile` and `fit` to an inner functional model, whose fields
 * are the ones that count.
 */
function trainingFields(model: LayersModel): TrainingFields {
  const inner = (model as unknown as { model?: unknown }).model;
  const delegates = typeof inner === 'object' && inner !== null && Array.isArray((inner as Partial<TrainingFields>).metricsTensors);
  return (delegates ? inner : model) as TrainingFields;
}

/** Per-output objectives of a multi-output model inside `fit`. */
export interface OutputObjectives {
  /** One source per output, named after the output, in output order. */
  sources: ObjectiveSources;
  /** Gradients of the regularization losses, added once to the combined gradients; undefined without regularizers. */
  regularization: ((variables: readonly tf.Variable[]) => ObjectiveResult) | undefined;
  /** The total loss as `fit` logs it; valid once the first source has run. */
  total(): tf.Scalar;
}

/**
 * Copies a loss tensor into a new tensor that no recorded op produced, so
 * `tf.variableGrads` finds no path from it to any variable. tfjs has no
 * stop-gradient op; this reads the values (one device read per call).
 */
function detachedLoss(lossFunction: LossFunction): LossFunction {
  return (yTrue, yPred) => {
    const loss = lossFunction(yTrue, yPred);
    return tf.tensor(loss.dataSync(), loss.shape, loss.dtype);
  };
}

/**
 * Wraps the loss closure of `fit` so that only its first run in a step
 * computes the model's metrics. The closure keeps the metric tensors of every
 * run, but `fit` disposes only those it returns, so each extra run (one per
 * extra objective, one for a sharpness objective) would leak one tensor per
 * metric and step.
 */
export function metricsOnFirstRun(model: LayersModel, closure: () => tf.Scalar): () => tf.Scalar {
  const fields = trainingFields(model);
  let runs = 0;
  return () => {
    runs += 1;
    if (runs === 1) {
      return closure();
    }
    const metricsTensors = fields.metricsTensors;
    fields.metricsTensors = [];
    try {
      return closure();
    } finally {
      fields.metricsTensors = metricsTensors;
    }
  };
}

/** Returns the output names of the model `fit` trains. */
export function outputNamesOf(model: LayersModel): string[] {
  return [...trainingFields(model).outputNames];
}

/** Reports whether a model has more than one output, so `fit` can yield one objective per output. */
export function hasSeveralOutputs(model: LayersModel): boolean {
  return trainingFields(model).outputNames.length > 1;
}

/**
 * Builds one objective per model output from the loss closure that `fit`
 * hands to `minimize`. Each objective re-runs the closure with every other
 * output's loss detached, so its value stays what `fit` logs while its
 * gradient reaches only the variables that output depends on (heads of other
 * outputs are absent from its map, not zero). Pass a closure wrapped with
 * `metricsOnFirstRun`, so metrics are computed on the first run only.
 * Regularization losses are left out of every run and differentiated once on
 * their own.
 *
 * `own` receives tensors that must live until the step ends.
 */
export function outputObjectives(model: LayersModel, closure: () => tf.Scalar, own: (tensor: tf.Tensor) => void): OutputObjectives {
  const fields = trainingFields(model);
  const names = [...fields.outputNames];
  let firstTotal: tf.Scalar | undefined;
  let regularizationValue: tf.Scalar | undefined;
  const sources: ObjectiveSources = {};

  names.forEach((name, k) => {
    sources[name] = {
      gradients: (variables) => {
        const lossFunctions = fields.lossFunctions;
        const calculateLosses = fields.calculateLosses;
        let objectiveLoss: tf.Scalar | undefined;
        fields.lossFunctions = lossFunctions.map((lossFunction, i) => {
          if (i !== k) {
            return detachedLoss(lossFunction);
          }
          return (yTrue: tf.Tensor, yPred: tf.Tensor) => {
            const loss = lossFunction(yTrue, yPred);
            objectiveLoss = tf.keep(tf.mean(loss) as tf.Scalar);
            return loss;
          };
        });
        fields.calculateLosses = () => [];
        try {
          const { value, grads } = tf.variableGrads(closure, [...variables]);
          if (k === 0) {
            firstTotal = value;
          } else {
            value.dispose();
          }
          own(objectiveLoss!);
          return { value: objectiveLoss!, grads };
        } finally {
          fields.lossFunctions = lossFunctions;
          fields.calculateLosses = calculateLosses;
        }
      },
    };
  });

  const hasRegularizers = fields.layers.some((layer) => layer.losses.length > 0);
  const regularization = hasRegularizers
    ? (variables: readonly tf.Variable[]) => {
        const { value, grads } = tf.variableGrads(() => tf.addN(fields.calculateLosses()) as tf.Scalar, [...variables]);
        regularizationValue = value;
        return { value, grads };
      }
    : undefined;

  return {
    sources,
    regularization,
    total: () => {
      if (firstTotal === undefined) {
        throw new Error('outputObjectives: total() called before the first objective ran');
      }
      return regularizationValue === undefined ? firstTotal : tf.add(firstTotal, regularizationValue);
    },
  };
}
