import * as tf from '@tensorflow/tfjs';

import { HookedOptimizer } from '@gradhooks/core';
import { clipGlobalNorm } from '@gradhooks/plugin-clip';
import { pcgrad } from '@gradhooks/plugin-surgery';

import { crossEntropy, singleHeadModel, trainableVariablesOf, twoHeadModel } from './models.js';
import type { Batch } from './models.js';

/** Learning rate of every optimizer; its value does not change the cost of a step. */
const LEARNING_RATE = 0.01;

/** One way of running a training step, timed against a baseline variant. */
export interface Variant {
  key: string;
  description: string;
  /** Key of the variant whose median is the denominator of the ratio; undefined for a baseline. */
  baseline: string | undefined;
  /** Maximum ratio to the baseline the project aims for; undefined for diagnostic variants. */
  target: number | undefined;
  /** Runs one full step, including a device read of the loss, and disposes everything it created. */
  step(): void;
}

/** The loss closures of a two-head model on one batch. */
interface TwoHeadObjectives {
  left: () => tf.Scalar;
  right: () => tf.Scalar;
  summed: () => tf.Scalar;
}

/** Closures that each run their own forward pass, as parameter-level steps need (one tape per objective). */
function separateForwards(model: tf.LayersModel, batch: Batch): TwoHeadObjectives {
  const forward = () => model.apply(batch.x) as tf.Tensor[];
  return {
    left: () => crossEntropy(batch.left, forward()[0]!),
    right: () => crossEntropy(batch.right, forward()[1]!),
    summed: () => {
      const [left, right] = forward();
      return tf.add(crossEntropy(batch.left, left!), crossEntropy(batch.right, right!));
    },
  };
}

/**
 * Closures that share one forward pass per step. A representation-level
 * session calls every objective inside one gradient tape, and the fan-out op
 * must see a single forward pass. With a forward pass per closure, the trunk
 * would run and be differentiated once per objective, and each fan-out op
 * would receive a zero gradient for the head its pass does not feed.
 * Call `reset` after each step.
 */
function sharedForward(model: tf.LayersModel, batch: Batch): TwoHeadObjectives & { reset(): void } {
  let outputs: tf.Tensor[] | undefined;
  const forward = () => (outputs ??= model.apply(batch.x) as tf.Tensor[]);
  return {
    left: () => crossEntropy(batch.left, forward()[0]!),
    right: () => crossEntropy(batch.right, forward()[1]!),
    summed: () => tf.add(crossEntropy(batch.left, forward()[0]!), crossEntropy(batch.right, forward()[1]!)),
    reset: () => {
      outputs = undefined;
    },
  };
}

/** Runs `optimizer.minimize` on `loss` and reads the returned loss from the device. */
function minimizeAndRead(optimizer: tf.Optimizer, loss: () => tf.Scalar, variables: tf.Variable[]): void {
  const cost = optimizer.minimize(loss, true, variables)!;
  cost.dataSync();
  cost.dispose();
}

/**
 * Builds every variant. The single-head variants share one MLP, the
 * parameter-level two-head variants share one two-head model, and the
 * representation-level variants share one two-head model with a fan-out
 * layer. Each variant has its own SGD optimizer, and SGD keeps no slot
 * variables, so sharing weights does not couple the variants' costs.
 */
export function buildVariants(batch: Batch): Variant[] {
  const mlp = singleHeadModel('bench_mlp');
  const mlpVariables = trainableVariablesOf(mlp);
  const mlpLoss = () => crossEntropy(batch.left, mlp.apply(batch.x) as tf.Tensor);

  const twoHead = twoHeadModel('bench_two_head', { fanOut: false });
  const twoHeadVariables = trainableVariablesOf(twoHead);
  const twoHeadLosses = separateForwards(twoHead, batch);

  const fanOutModel = twoHeadModel('bench_fan_out', { fanOut: true });
  const fanOutVariables = trainableVariablesOf(fanOutModel);
  const fanOutLosses = sharedForward(fanOutModel, batch);

  const plainOptimizer = tf.train.sgd(LEARNING_RATE);
  const hookedGuard = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { guard: true });
  const hookedNoGuard = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { guard: false });
  const hookedClip = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins: [clipGlobalNorm({ maxNorm: 5 })] });
  const twoHeadPlain = tf.train.sgd(LEARNING_RATE);
  const twoPassPlain = tf.train.sgd(LEARNING_RATE);
  const fanOutPlain = tf.train.sgd(LEARNING_RATE);
  const hookedSum = new HookedOptimizer(tf.train.sgd(LEARNING_RATE));
  const pcgradParameter = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { plugins: [pcgrad({ seed: 1 })] });
  const hookedRepresentation = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), { level: 'representation' });
  const pcgradRepresentation = new HookedOptimizer(tf.train.sgd(LEARNING_RATE), {
    plugins: [pcgrad({ seed: 1 })],
    level: 'representation',
  });

  const stepShared = (optimizer: HookedOptimizer) => {
    try {
      optimizer.step({ left: fanOutLosses.left, right: fanOutLosses.right }, { variables: fanOutVariables });
    } finally {
      fanOutLosses.reset();
    }
  };

  return [
    {
      key: 'plain',
      description: 'bare tfjs SGD, single-head MLP: minimize',
      baseline: undefined,
      target: undefined,
      step: () => minimizeAndRead(plainOptimizer, mlpLoss, mlpVariables),
    },
    {
      key: 'hooked-guard',
      description: 'HookedOptimizer, no plugins, guard on: minimize',
      baseline: 'plain',
      target: 1.02,
      step: () => minimizeAndRead(hookedGuard, mlpLoss, mlpVariables),
    },
    {
      key: 'hooked-noguard',
      description: 'HookedOptimizer, no plugins, guard off: minimize',
      baseline: 'plain',
      target: undefined,
      step: () => minimizeAndRead(hookedNoGuard, mlpLoss, mlpVariables),
    },
    {
      key: 'two-head-plain',
      description: 'bare tfjs SGD, two-head model: minimize on left + right',
      baseline: undefined,
      target: undefined,
      step: () => minimizeAndRead(twoHeadPlain, twoHeadLosses.summed, twoHeadVariables),
    },
    {
      key: 'pcgrad-parameter',
      description: 'PCGrad, parameter level, 2 objectives: step',
      baseline: 'two-head-plain',
      target: 2.1,
      step: () => {
        pcgradParameter.step({ left: twoHeadLosses.left, right: twoHeadLosses.right }, { variables: twoHeadVariables });
      },
    },
    {
      key: 'pcgrad-representation',
      description: 'PCGrad, representation level via FanOut: step',
      baseline: 'two-head-plain',
      target: 1.08,
      step: () => stepShared(pcgradRepresentation),
    },
    {
      key: 'hooked-clip',
      description: 'HookedOptimizer + clip-global-norm, guard on: minimize',
      baseline: 'plain',
      target: undefined,
      step: () => minimizeAndRead(hookedClip, mlpLoss, mlpVariables),
    },
    {
      key: 'two-pass-plain',
      description: 'bare tfjs: two variableGrads passes, summed, applied',
      baseline: 'two-head-plain',
      target: undefined,
      step: () => twoPassStep(twoPassPlain, twoHeadLosses, twoHeadVariables),
    },
    {
      key: 'hooked-sum-parameter',
      description: 'HookedOptimizer, no plugins, 2 objectives: step',
      baseline: 'two-head-plain',
      target: undefined,
      step: () => {
        hookedSum.step({ left: twoHeadLosses.left, right: twoHeadLosses.right }, { variables: twoHeadVariables });
      },
    },
    {
      key: 'fanout-plain',
      description: 'bare tfjs SGD, two-head model with FanOut: minimize',
      baseline: 'two-head-plain',
      target: undefined,
      step: () => {
        try {
          minimizeAndRead(fanOutPlain, fanOutLosses.summed, fanOutVariables);
        } finally {
          fanOutLosses.reset();
        }
      },
    },
    {
      key: 'hooked-representation',
      description: 'HookedOptimizer, representation level, no plugins: step',
      baseline: 'two-head-plain',
      target: undefined,
      step: () => stepShared(hookedRepresentation),
    },
  ];
}

/**
 * Runs the floor of any parameter-level two-objective step, without the bus:
 * one forward and backward pass per objective, the gradients summed and
 * applied, and both losses read in one device read as `HookedOptimizer.step` does.
 */
function twoPassStep(optimizer: tf.Optimizer, losses: TwoHeadObjectives, variables: tf.Variable[]): void {
  tf.tidy(() => {
    const left = tf.variableGrads(losses.left, variables);
    const right = tf.variableGrads(losses.right, variables);
    const combined: tf.NamedTensorMap = {};
    for (const variable of variables) {
      const a = left.grads[variable.name];
      const b = right.grads[variable.name];
      const sum = a !== undefined && b !== undefined ? tf.add(a, b) : (a ?? b);
      if (sum !== undefined) {
        combined[variable.name] = sum;
      }
    }
    optimizer.applyGradients(combined);
    tf.stack([left.value, right.value]).dataSync();
  });
}
