import * as tf from '@tensorflow/tfjs-core';

import { partitionVariables } from '@gradhooks/core';
import type {
  GradientMap,
  ObjectiveGradients,
  PluginContext,
  PluginInstance,
  RepresentationGradients,
  StepContext,
} from '@gradhooks/core';

import { cosinesOf, countConflicts, gramianOf, stackAligned } from './math/gramian.js';
import type { Gramian } from './math/gramian.js';
import type { Projection } from './math/projectConflicting.js';

/** Input of a weighting: the Gramian of the objective gradients it covers. */
export interface WeightingInput {
  /** Gramian, or undefined when `needsGramian` returned false for this step. */
  gramian: Gramian | undefined;
  objectives: readonly string[];
  step: StepContext;
  /**
   * Place of the aggregation: `'parameters'` at the parameter level, the
   * fan-out layer's name at the representation level. Stateful methods keep
   * one state per scope.
   */
  scope: string;
}

/** Weights of the objective gradients in the update, plus what the method did. */
export interface WeightingResult {
  weights: number[];
  projections?: Projection[];
}

/** Options of `aggregatorInstance`. */
export interface AggregatorGlue {
  /** Turns the Gramian into one weight per objective. */
  weighting: (input: WeightingInput) => WeightingResult;
  /** Whether this step needs the Gramian; defaults to always. Constant weightings need it only to report. */
  needsGramian?: (step: StepContext) => boolean;
}

/** Scope of parameter-level aggregation in `WeightingInput.scope`. */
export const PARAMETER_SCOPE = 'parameters';

/**
 * Builds the taps of a Gramian-based aggregator. At the parameter level it
 * taps `aggregate`: the weighting covers the shared variables that match the
 * plugin's `variables` patterns (a variable with a gradient in two or more
 * objectives); other shared variables get the plain sum, and task-specific
 * variables pass through from their one objective. At the representation
 * level it taps `representationGradients` and scales each objective's
 * gradient with respect to the representation by its weight; the fan-out op
 * sums them. Either way only K² numbers leave the device per step.
 */
export function aggregatorInstance(context: PluginContext, glue: AggregatorGlue): PluginInstance {
  if (context.level === 'representation') {
    return {
      representationGradients: (gradients, step, layer) => aggregateRepresentation(gradients, step, layer, glue),
    };
  }
  const warnNoneSelected = warnOnceWhenNoneSelected(context);
  return {
    aggregate: (gradients, step) => aggregateParameters(gradients, step, context, glue, warnNoneSelected),
  };
}

/**
 * Returns a callback that logs one warning, the first time it is called,
 * that the plugin's `variables` patterns match none of the shared variables.
 */
export function warnOnceWhenNoneSelected(context: PluginContext): (shared: readonly string[]) => void {
  let warned = false;
  return (shared) => {
    if (!warned) {
      warned = true;
      context.logger.warn(
        `the variables patterns match none of the ${shared.length} shared variables (for example '${shared[0]}'), so the plain sum is applied; check the patterns against the model's variable names`,
      );
    }
  };
}

function aggregateParameters(
  gradients: ObjectiveGradients,
  step: StepContext,
  context: PluginContext,
  glue: AggregatorGlue,
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
    if (needsGramian(glue, step)) {
      // One [K, P] matrix serves the Gramian and the combination: J Jᵀ, then wᵀ J.
      const shapes = new Map(selected.map((name) => [name, step.variableShape(name)!]));
      const matrix = stackAligned(maps, selected, shapes);
      const gramian = gramianOf(matrix);
      const result = glue.weighting({ gramian, objectives, step, scope: PARAMETER_SCOPE });
      report(step, objectives, gramian, result);
      const vector = tf.reshape(tf.matMul(tf.tensor2d([result.weights], [1, objectives.length]), matrix), [-1]);
      matrix.dispose();
      splitInto(vector, selected, shapes, combined);
    } else {
      const result = glue.weighting({ gramian: undefined, objectives, step, scope: PARAMETER_SCOPE });
      for (const name of selected) {
        combined.set(name, weightedSum(maps, name, result.weights));
      }
    }
  }

  return assembleOutput(maps, combined, step.variableNames);
}

function aggregateRepresentation(gradients: RepresentationGradients, step: StepContext, layer: string, glue: AggregatorGlue): RepresentationGradients {
  const objectives = Object.keys(gradients);
  if (objectives.length < 2) {
    return gradients;
  }
  const gramian = needsGramian(glue, step)
    ? (() => {
        const matrix = tf.stack(objectives.map((objective) => tf.reshape(gradients[objective]!, [-1]))) as tf.Tensor2D;
        return gramianOf(matrix);
      })()
    : undefined;
  const result = glue.weighting({ gramian, objectives, step, scope: layer });
  report(step, objectives, gramian, result);
  const output: RepresentationGradients = {};
  objectives.forEach((objective, k) => {
    const weight = result.weights[k]!;
    output[objective] = weight === 1 ? gradients[objective]! : tf.mul(gradients[objective]!, weight);
  });
  return output;
}

function needsGramian(glue: AggregatorGlue, step: StepContext): boolean {
  return glue.needsGramian === undefined || glue.needsGramian(step);
}

/** Splits a flat vector into the variables `names`, in order, reshaped to their shapes. */
export function splitInto(vector: tf.Tensor, names: readonly string[], shapes: ReadonlyMap<string, readonly number[]>, into: Map<string, tf.Tensor>): void {
  const sizes = names.map((name) => shapes.get(name)!.reduce((product, size) => product * size, 1));
  const parts = sizes.length === 1 ? [vector] : tf.split(vector, sizes);
  names.forEach((name, i) => into.set(name, tf.reshape(parts[i]!, shapes.get(name)! as number[])));
}

/** Σ_k w_k g_k[name] over the objectives that have a gradient for `name`, in objective order. */
function weightedSum(maps: readonly GradientMap[], name: string, weights: readonly number[]): tf.Tensor {
  let total: tf.Tensor | undefined;
  maps.forEach((map, k) => {
    const tensor = map[name];
    if (tensor == null) {
      return;
    }
    const term = weights[k] === 1 ? tensor : tf.mul(tensor, weights[k]!);
    total = total === undefined ? term : tf.add(total, term);
  });
  return total!;
}

/**
 * Builds the combined map in variable order: the aggregated tensor where one
 * exists, the plain sum of the objectives that have the variable otherwise,
 * and null for a variable an objective lists as null.
 */
export function assembleOutput(maps: readonly GradientMap[], combined: ReadonlyMap<string, tf.Tensor>, order: readonly string[]): GradientMap {
  const output: GradientMap = {};
  for (const name of order) {
    const tensor = combined.get(name) ?? plainSum(maps, name);
    if (tensor !== undefined) {
      output[name] = tensor;
    } else if (maps.some((map) => name in map)) {
      output[name] = null;
    }
  }
  return output;
}

/** Plain sum of `name` over the objectives that have it; the tensor itself when only one does. */
export function plainSum(maps: readonly GradientMap[], name: string): tf.Tensor | undefined {
  let total: tf.Tensor | undefined;
  for (const map of maps) {
    const tensor = map[name];
    if (tensor != null) {
      total = total === undefined ? tensor : tf.add(total, tensor);
    }
  }
  return total;
}

export function report(step: StepContext, objectives: readonly string[], gramian: Gramian | undefined, result: WeightingResult): void {
  if (!step.report || gramian === undefined) {
    return;
  }
  step.emit('conflict', {
    objectives: [...objectives],
    gramian: gramian.matrix,
    cosines: cosinesOf(gramian.normalized),
    conflicts: countConflicts(gramian.normalized),
    ...(result.weights.length > 0 ? { weights: [...result.weights] } : {}),
  });
  for (const projection of result.projections ?? []) {
    step.emit('projection', {
      objective: objectives[projection.objective]!,
      onto: objectives[projection.onto]!,
      coefficient: projection.coefficient,
    });
  }
}
