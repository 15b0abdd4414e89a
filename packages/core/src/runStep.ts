import * as tf from '@tensorflow/tfjs-core';

import { ErrorCode, GradhooksError } from './errors.js';
import { alignToOrder, mapGradients, sumObjectiveGradients } from './gradients.js';
import type { GradientMap, ObjectiveGradients, ObjectiveResult, ObjectiveSource, ObjectiveSources } from './gradients.js';
import type { HookBus } from './HookBus.js';
import type { Logger } from './logger.js';
import { countNonFinite, firstNonFiniteVariable } from './nonFinite.js';
import { StepContext, StepSkip } from './StepContext.js';
import type { GradientLevel } from './StepContext.js';
import type { Telemetry } from './telemetry.js';
import { sumScalars } from './vectorParts.js';

/** Everything one step needs; built by `TrainingSession`. */
export interface StepInput {
  sources: ObjectiveSources;
  variables: readonly tf.Variable[];
  optimizer: tf.Optimizer;
  bus: HookBus;
  telemetry: Telemetry;
  logger: Logger;
  level: GradientLevel;
  guard: boolean;
  /** Declared objective weights; undefined when the step's objectives are taken as given. */
  weights: ReadonlyMap<string, number> | undefined;
  index: number;
  call: number;
  report: boolean;
  /** A flush step: no objectives; plugins release gradients they hold back. */
  flushing: boolean;
  /** Read each objective's loss from the device (custom loops return them). */
  readLosses: boolean;
  /** Computes the loss the caller receives; defaults to the sum of the objectives' losses. */
  total: (() => tf.Scalar) | undefined;
  /** Gradients added once to the combined gradients after aggregation (regularization inside fit). */
  extra: ((variables: readonly tf.Variable[]) => ObjectiveResult) | undefined;
  /** Loss to return when a step is skipped before any objective ran. */
  fallbackTotal: (() => tf.Scalar) | undefined;
  checkObjectives(names: readonly string[]): void;
  withActive<T>(step: StepContext, fn: () => T): T;
  /** Called right after the optimizer applied the update. */
  onApplied(): void;
}

/** Outcome of one step. */
export interface StepOutcome {
  applied: boolean;
  skipReason?: string;
  skippedBy?: string;
  index: number;
  /** Total loss, owned by the caller; undefined when no objective ran. */
  total: tf.Scalar | undefined;
  losses?: Record<string, number>;
}

interface PipelineResult {
  total: tf.Scalar | undefined;
  losses: Record<string, number> | undefined;
  skip: StepSkip | undefined;
}

/**
 * Runs one training step transactionally. Every tensor the step creates is
 * disposed at its end except the returned total loss and state that plugins
 * keep. When a tap skips the step or throws, the optimizer is not called,
 * staged plugin state is discarded (`onAbort`), and queued telemetry is
 * published for a skip and dropped for an error.
 */
export function runStep(input: StepInput): StepOutcome {
  const step = new StepContext({
    index: input.index,
    call: input.call,
    level: input.level,
    variables: input.variables,
    report: input.report,
    flushing: input.flushing,
    logger: input.logger,
  });
  const started = performance.now();
  let result: PipelineResult;
  let applied = false;
  try {
    // tf.tidy keeps the tensors found in the returned object (the total loss) and disposes the rest.
    result = tf.tidy(
      () =>
        input.withActive(step, () =>
          pipeline(input, step, () => {
            applied = true;
            input.onApplied();
          }),
        ) as unknown as tf.TensorContainer,
    ) as unknown as PipelineResult;
  } catch (error) {
    if (!applied) {
      step.runAborts();
    }
    step.takeEvents();
    input.telemetry.publish('error', {
      step: input.index,
      ...(error instanceof GradhooksError && error.plugin !== undefined ? { plugin: error.plugin } : {}),
      ...(error instanceof GradhooksError ? { code: error.code } : {}),
      ...(error instanceof GradhooksError && error.hook !== undefined ? { hook: error.hook } : {}),
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }

  if (result.skip !== undefined) {
    const skip = result.skip;
    try {
      skip.commit?.();
    } finally {
      step.runAborts();
    }
    publishEvents(input.telemetry, step);
    input.telemetry.publish('skip', { step: input.index, ...(skip.plugin === undefined ? {} : { plugin: skip.plugin }), reason: skip.reason });
    publishStep(input, step, started, false, result.losses, skip.reason);
    return {
      applied: false,
      skipReason: skip.reason,
      ...(skip.plugin === undefined ? {} : { skippedBy: skip.plugin }),
      index: input.index,
      total: result.total,
      ...(result.losses === undefined ? {} : { losses: result.losses }),
    };
  }

  try {
    step.runCommits();
    tf.tidy(() => input.withActive(step, () => input.bus.hooks.afterApply.call(step)));
  } catch (error) {
    result.total?.dispose();
    step.takeEvents();
    throw error;
  }
  publishEvents(input.telemetry, step);
  publishStep(input, step, started, true, result.losses, undefined);
  return {
    applied: true,
    index: input.index,
    total: result.total,
    ...(result.losses === undefined ? {} : { losses: result.losses }),
  };
}

function pipeline(input: StepInput, step: StepContext, applied: () => void): PipelineResult {
  const { bus } = input;
  const order = step.variableNames;
  let total: tf.Scalar | undefined;
  let losses: Record<string, number> | undefined;
  try {
    bus.hooks.beginStep.call(step);
    const sources = bus.hooks.objectiveSources.call(input.sources, step);
    const names = Object.keys(sources);
    if (!step.flushing) {
      input.checkObjectives(names);
    }
    step.setObjectives(names);

    const objectiveGradients: ObjectiveGradients = {};
    const values: tf.Scalar[] = [];
    for (const name of names) {
      const weight = input.weights?.get(name) ?? sources[name]!.weight ?? 1;
      const { value, grads } = computeObjective(name, sources[name]!, input.variables, weight, step);
      step.setLoss(name, value);
      values.push(value);
      objectiveGradients[name] = grads;
    }
    total = input.total === undefined ? sumScalars(values) : input.total();
    if (input.readLosses || step.report) {
      losses = readLosses(step);
    }

    const processed = bus.hooks.objectiveGradients.call(objectiveGradients, step);
    let combined = bus.hooks.aggregate.call(processed, step) ?? sumObjectiveGradients(processed, order);
    if (input.extra !== undefined) {
      const extra = input.extra(input.variables);
      combined = addGradientMaps(combined, extra.grads, order);
      total = input.total === undefined ? (tf.add(total, extra.value) as tf.Scalar) : input.total();
    }
    combined = bus.hooks.gradients.call(alignToOrder(combined, order), step);
    bus.hooks.beforeApply.call(combined, step);
    if (order.every((name) => combined[name] == null)) {
      // An update without any gradient would still advance the optimizer's counters (Adam's beta powers).
      step.skip(step.flushing ? 'nothing to flush' : 'no variable has a gradient');
    }

    if (input.guard) {
      refuseNonFinite(combined, order);
    }
    input.optimizer.applyGradients(order.map((name) => ({ name, tensor: combined[name] as tf.Tensor })));
    applied();
    return { total, losses, skip: undefined };
  } catch (error) {
    if (!(error instanceof StepSkip)) {
      throw error;
    }
    if (total === undefined && input.fallbackTotal !== undefined) {
      total = input.fallbackTotal();
    }
    return { total, losses, skip: error };
  }
}

/** Computes one objective's loss and gradients, scaled by its weight, keyed in variable order. */
function computeObjective(
  name: string,
  source: ObjectiveSource,
  variables: readonly tf.Variable[],
  weight: number,
  step: StepContext,
): ObjectiveResult {
  let result: ObjectiveResult;
  try {
    if ('loss' in source) {
      const loss = source.loss;
      result = tf.variableGrads(weight === 1 ? loss : () => tf.mul(loss(), weight), [...variables]);
    } else {
      result = source.gradients(variables);
      if (weight !== 1) {
        result = { value: tf.mul(result.value, weight) as tf.Scalar, grads: mapGradients(result.grads, (gradient) => tf.mul(gradient, weight)) };
      }
    }
  } catch (error) {
    if (error instanceof GradhooksError || error instanceof StepSkip) {
      throw error;
    }
    throw new GradhooksError(
      ErrorCode.ERR_OBJECTIVE_INVALID,
      `Computing the gradients of objective '${name}' failed: ${error instanceof Error ? error.message : String(error)}`,
      { received: name, cause: error, fix: `Check that objective '${name}' returns a scalar loss computed from the trained variables.` },
    );
  }
  const ordered: GradientMap = {};
  for (const variableName of step.variableNames) {
    if (variableName in result.grads) {
      ordered[variableName] = result.grads[variableName] ?? null;
    }
  }
  for (const [variableName, tensor] of Object.entries(result.grads)) {
    if (!(variableName in ordered)) {
      throw new GradhooksError(
        ErrorCode.ERR_GRADIENT_UNKNOWN_VARIABLE,
        `Objective '${name}' produced a gradient for '${variableName}', which is not among the variables being trained.`,
        { variable: variableName, received: variableName, expected: 'names of the variables of this step', fix: 'Return gradients only for the variables passed to the objective.' },
      );
    }
    const shape = step.variableShape(variableName)!;
    if (tensor !== null && tensor.shape.join(',') !== shape.join(',')) {
      throw new GradhooksError(
        ErrorCode.ERR_GRADIENT_SHAPE_MISMATCH,
        `Objective '${name}' produced a gradient of shape [${tensor.shape.join(', ')}] for '${variableName}', whose shape is [${shape.join(', ')}].`,
        { variable: variableName, received: tensor.shape, expected: `[${shape.join(', ')}]`, fix: 'Return each gradient with the shape of its variable.' },
      );
    }
  }
  return { value: result.value, grads: ordered };
}

function readLosses(step: StepContext): Record<string, number> {
  const names = Object.keys(step.losses);
  if (names.length === 0) {
    return {};
  }
  const numbers = tf.stack(names.map((name) => step.losses[name]!)).dataSync();
  return Object.fromEntries(names.map((name, i) => [name, numbers[i]!]));
}

function addGradientMaps(a: GradientMap, b: GradientMap, order: readonly string[]): GradientMap {
  const result: GradientMap = {};
  for (const name of order) {
    const left = a[name] ?? null;
    const right = b[name] ?? null;
    if (left !== null && right !== null) {
      result[name] = tf.add(left, right);
    } else if (left !== null || right !== null) {
      result[name] = left ?? right;
    }
  }
  return result;
}

function refuseNonFinite(combined: GradientMap, order: readonly string[]): void {
  const name = firstNonFiniteVariable(combined, order);
  if (name === undefined) {
    return;
  }
  const count = countNonFinite(combined[name]!);
  throw new GradhooksError(
    ErrorCode.ERR_GRADIENT_NONFINITE,
    `The gradient of '${name}' has ${count} NaN or infinite value(s) after all plugins ran, so the step was refused and no variable changed.`,
    {
      variable: name,
      received: `${count} non-finite value(s)`,
      expected: 'finite gradients',
      fix: "Add the 'nonfinite' plugin to skip such steps, lower the learning rate or clip gradients; guard: false turns this check off.",
    },
  );
}

function publishEvents(telemetry: Telemetry, step: StepContext): void {
  for (const [event, payload] of step.takeEvents()) {
    telemetry.publish(event, payload as never);
  }
}

function publishStep(
  input: StepInput,
  step: StepContext,
  started: number,
  applied: boolean,
  losses: Record<string, number> | undefined,
  skipReason: string | undefined,
): void {
  input.telemetry.publish('step', {
    step: input.index,
    call: input.call,
    applied,
    ...(skipReason === undefined ? {} : { skipReason }),
    objectives: [...step.objectives],
    ...(losses !== undefined && step.report ? { losses } : {}),
    durationMs: performance.now() - started,
    pluginMs: { ...step.pluginMs },
  });
}
