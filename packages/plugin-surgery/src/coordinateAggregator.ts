import * as tf from '@tensorflow/tfjs-core';

import { partitionVariables } from '@gradhooks/core';
import type { GradientMap, ObjectiveGradients, PluginContext, PluginInstance, RepresentationGradients, StepContext } from '@gradhooks/core';

import { assembleOutput, PARAMETER_SCOPE, report, splitInto, warnOnceWhenNoneSelected } from './aggregator.js';
import { gramianOf, stackAligned } from './math/gramian.js';

/** Input of a coordinate-wise combination. */
export interface CombineInput {
  /** [K, P]: row k is objective k's gradient, flattened over the covered variables or the representation. */
  matrix: tf.Tensor2D;
  objectives: readonly string[];
  step: StepContext;
  /** `'parameters'` or the fan-out layer's name, as in `WeightingInput.scope`. */
  scope: string;
}

/** Options of `coordinateAggregatorInstance`. */
export interface CoordinateGlue {
  /** Turns the K gradients into one vector of P values. */
  combine: (input: CombineInput) => tf.Tensor1D;
}

/**
 * Builds the taps of an aggregator that needs the gradients' coordinates, not
 * only their Gramian (GradDrop, the trimmed mean). Variables are covered as
 * in `aggregatorInstance`: the shared variables matching `variables` are
 * stacked by name into a [K, P] matrix and combined; other shared variables
 * get the plain sum and task-specific variables pass through. At the
 * representation level the combined gradient goes to the first objective and
 * zeros to the others, so the fan-out's sum is the combination. On reporting
 * steps the Gramian, cosines and conflicts are reported too.
 */
export function coordinateAggregatorInstance(context: PluginContext, glue: CoordinateGlue): PluginInstance {
  if (context.level === 'representation') {
    return {
      representationGradients: (gradients, step, layer) => combineRepresentation(gradients, step, layer, glue),
    };
  }
  const warnNoneSelected = warnOnceWhenNoneSelected(context);
  return {
    aggregate: (gradients, step) => combineParameters(gradients, step, context, glue, warnNoneSelected),
  };
}

function combineParameters(
  gradients: ObjectiveGradients,
  step: StepContext,
  context: PluginContext,
  glue: CoordinateGlue,
  warnNoneSelected: (shared: readonly string[]) => void,
): GradientMap {
  const objectives = Object.keys(gradients);
  const maps = objectives.map((objective) => gradients[objective]!);
  const { shared } = partitionVariables(gradients, step.variableNames);
  const selected = shared.filter((name) => context.matchesVariable(name));
  if (shared.length > 0 && selected.length === 0) {
    warnNoneSelected(shared);
  }
  const combined = new Map<string, tf.Tensor>();

  if (selected.length > 0) {
    const shapes = new Map(selected.map((name) => [name, step.variableShape(name)!]));
    const matrix = stackAligned(maps, selected, shapes);
    if (step.report) {
      report(step, objectives, gramianOf(matrix), { weights: [] });
    }
    const vector = glue.combine({ matrix, objectives, step, scope: PARAMETER_SCOPE });
    splitInto(vector, selected, shapes, combined);
  }

  return assembleOutput(maps, combined, step.variableNames);
}

function combineRepresentation(gradients: RepresentationGradients, step: StepContext, layer: string, glue: CoordinateGlue): RepresentationGradients {
  const objectives = Object.keys(gradients);
  if (objectives.length < 2) {
    return gradients;
  }
  const shape = gradients[objectives[0]!]!.shape;
  const matrix = tf.stack(objectives.map((objective) => tf.reshape(gradients[objective]!, [-1]))) as tf.Tensor2D;
  if (step.report) {
    report(step, objectives, gramianOf(matrix), { weights: [] });
  }
  const vector = glue.combine({ matrix, objectives, step, scope: layer });
  const output: RepresentationGradients = {};
  objectives.forEach((objective, k) => {
    output[objective] = k === 0 ? tf.reshape(vector, shape) : tf.zerosLike(gradients[objective]!);
  });
  return output;
}
