import * as tf from '@tensorflow/tfjs-core';


import { ErrorCode, GradhooksError } from './errors.js';
import type { NamedTensor } from './gradients.js';
import { decodeTensor, encodeTensor } from './tensorCodec.js';
import type { EncodedTensor } from './tensorCodec.js';

/** Exact state of a tfjs optimizer: slot variables, iteration count and the values tfjs itself cannot restore. */
export interface OptimizerStateSnapshot {
  className: string;
  iterations: number;
  slots: Array<{ name: string; tensor: EncodedTensor }>;
  /** Values `setWeights` recomputes or skips: Adam's beta powers, Adamax's whole state. */
  exact: Record<string, EncodedTensor>;
}

interface OptimizerVariable {
  originalName: string;
  variable: tf.Variable;
}

/** Fields of tfjs 4.22's AdamOptimizer that `setWeights` recomputes with `pow`. */
interface AdamFields {
  beta1: number;
  beta2: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
}

/** Fields of tfjs 4.22's AdamaxOptimizer, whose getWeights and setWeights throw "not implemented". */
interface AdamaxFields {
  accumulatedFirstMoment: OptimizerVariable[];
  accumulatedWeightedInfNorm: OptimizerVariable[];
  iteration: tf.Variable;
  accBeta1: tf.Variable;
  iterations_: number;
}

function unsupported(className: string, cause: unknown): GradhooksError {
  return new GradhooksError(
    ErrorCode.ERR_OPTIMIZER_STATE_UNSUPPORTED,
    `Cannot read or write the state of optimizer ${className}: ${cause instanceof Error ? cause.message : String(cause)}`,
    {
      received: className,
      expected: 'an optimizer with getWeights and setWeights (sgd, momentum, adam, adamax, rmsprop, adagrad, adadelta)',
      fix: 'Implement getWeights and setWeights on the optimizer, or checkpoint with { optimizer: false }.',
      cause,
    },
  );
}

/**
 * Reads the complete state of a tfjs optimizer. Adam's accumulated beta
 * powers and Adamax's state, which tfjs's own getWeights loses or cannot
 * save, are read from the optimizer's fields.
 */
export async function saveOptimizerState(optimizer: tf.Optimizer): Promise<OptimizerStateSnapshot> {
  const className = optimizer.getClassName();
  if (className === 'Adamax') {
    const fields = optimizer as unknown as AdamaxFields;
    const slots = [...fields.accumulatedFirstMoment, ...fields.accumulatedWeightedInfNorm].map((slot) => ({
      name: slot.originalName,
      tensor: encodeTensor(slot.variable),
    }));
    return {
      className,
      iterations: optimizer.iterations,
      slots,
      exact: { iteration: encodeTensor(fields.iteration), accBeta1: encodeTensor(fields.accBeta1) },
    };
  }
  let weights: NamedTensor[];
  try {
    weights = await optimizer.getWeights();
  } catch (error) {
    throw unsupported(className, error);
  }
  const [iterationsEntry, ...slotEntries] = weights;
  const iterations = iterationsEntry === undefined ? optimizer.iterations : iterationsEntry.tensor.dataSync()[0]!;
  iterationsEntry?.tensor.dispose();
  const exact: Record<string, EncodedTensor> = {};
  if (className === 'Adam') {
    const fields = optimizer as unknown as AdamFields;
    exact['accBeta1'] = encodeTensor(fields.accBeta1);
    exact['accBeta2'] = encodeTensor(fields.accBeta2);
  }
  return {
    className,
    iterations,
    slots: slotEntries.map((entry) => ({ name: entry.name, tensor: encodeTensor(entry.tensor) })),
    exact,
  };
}

/**
 * Restores a state from `saveOptimizerState` into an optimizer of the same
 * class, bit for bit, disposing the slot variables it replaces.
 */
export async function loadOptimizerState(optimizer: tf.Optimizer, snapshot: OptimizerStateSnapshot): Promise<void> {
  const className = optimizer.getClassName();
  if (snapshot.className !== className) {
    throw new GradhooksError(
      ErrorCode.ERR_CHECKPOINT_INVALID,
      `The checkpoint holds the state of optimizer ${snapshot.className}, but the session wraps ${className}.`,
      {
        received: snapshot.className,
        expected: className,
        fix: `Wrap the same optimizer class as the run that wrote the checkpoint (${snapshot.className}).`,
      },
    );
  }
  if (className === 'Adamax') {
    const fields = optimizer as unknown as AdamaxFields;
    const half = snapshot.slots.length / 2;
    const toVariables = (entries: OptimizerStateSnapshot['slots']) =>
      entries.map((entry) => {
        const value = decodeTensor(entry.tensor);
        const variable = value.variable(false);
        value.dispose();
        return { originalName: entry.name, variable };
      });
    tf.dispose([...fields.accumulatedFirstMoment, ...fields.accumulatedWeightedInfNorm].map((slot) => slot.variable));
    fields.accumulatedFirstMoment = toVariables(snapshot.slots.slice(0, half));
    fields.accumulatedWeightedInfNorm = toVariables(snapshot.slots.slice(half));
    assignExact(fields.iteration, snapshot.exact['iteration']);
    assignExact(fields.accBeta1, snapshot.exact['accBeta1']);
    fields.iterations_ = snapshot.iterations;
    return;
  }
  let previous: NamedTensor[];
  try {
    previous = await optimizer.getWeights();
  } catch (error) {
    throw unsupported(className, error);
  }
  const values: NamedTensor[] = [
    { name: 'iter', tensor: tf.scalar(snapshot.iterations, 'int32') },
    ...snapshot.slots.map((entry) => ({ name: entry.name, tensor: decodeTensor(entry.tensor) })),
  ];
  try {
    await optimizer.setWeights(values);
  } catch (error) {
    throw unsupported(className, error);
  } finally {
    tf.dispose(values.map((entry) => entry.tensor));
  }
  tf.dispose(previous.map((entry) => entry.tensor));
  if (className === 'Adam') {
    const fields = optimizer as unknown as AdamFields;
    assignExact(fields.accBeta1, snapshot.exact['accBeta1']);
    assignExact(fields.accBeta2, snapshot.exact['accBeta2']);
  }
}

function assignExact(variable: tf.Variable, encoded: EncodedTensor | undefined): void {
  if (encoded === undefined) {
    throw new GradhooksError(ErrorCode.ERR_CHECKPOINT_INVALID, `The checkpoint lacks the optimizer value for ${variable.name}.`, {
      fix: 'Load a checkpoint written by saveCheckpoint, unmodified.',
    });
  }
  const value = decodeTensor(encoded);
  variable.assign(value);
  value.dispose();
}

/**
 * Recomputes Adam's accumulated beta powers the way training produces them,
 * one float32 multiplication per step, after tfjs's `setWeights` has set them
 * with `pow` (which differs in the last bits). Used when only tfjs's own
 * weights are available, as in `model.save` with `includeOptimizer`.
 */
export function repairAdamPowers(optimizer: tf.Optimizer): void {
  if (optimizer.getClassName() !== 'Adam') {
    return;
  }
  const fields = optimizer as unknown as AdamFields;
  const power = (beta: number) => {
    const factor = Math.fround(beta);
    let accumulated = factor;
    for (let i = 0; i < optimizer.iterations; i++) {
      accumulated = Math.fround(accumulated * factor);
    }
    return accumulated;
  };
  tf.tidy(() => {
    fields.accBeta1.assign(tf.scalar(power(fields.beta1)));
    fields.accBeta2.assign(tf.scalar(power(fields.beta2)));
  });
}
