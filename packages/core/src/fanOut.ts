import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import type { Shape } from '@tensorflow/tfjs-layers';

import { currentStep } from './activeStep.js';
import { ErrorCode, GradhooksError } from './errors.js';
import type { RepresentationGradients } from './gradients.js';

function checkObjectives(objectives: readonly string[], where: string): void {
  const valid =
    Array.isArray(objectives) &&
    objectives.length >= 1 &&
    objectives.every((name) => typeof name === 'string' && name.length > 0) &&
    new Set(objectives).size === objectives.length;
  if (!valid) {
    throw new GradhooksError(ErrorCode.ERR_FANOUT_INVALID, `${where} needs a list of distinct, non-empty objective names.`, {
      received: objectives,
      expected: "distinct names, one per task head, such as ['left', 'right']",
      fix: 'Pass one name per task head, in the order the heads read the outputs.',
    });
  }
}

/**
 * Copies a shared representation `z` into one tensor per objective; head k
 * reads output k. In the backward pass the op receives every objective's
 * gradient with respect to `z` at once, runs the session's
 * `representationGradients` hook on them (when a session step is running),
 * and returns their sum as the gradient of `z`. Outside a session step the
 * gradient is the plain sum, so the op is an identity for plain optimizers.
 */
export function fanOut(z: tf.Tensor, objectives: readonly string[], layer = 'fan_out'): tf.Tensor[] {
  checkObjectives(objectives, 'fanOut');
  const count = objectives.length;
  const tile = tf.customGrad(((x: tf.Tensor) => ({
    value: tf.stack(new Array<tf.Tensor>(count).fill(x), 1),
    gradFunc: (dy: tf.Tensor) => {
      const parts = tf.unstack(dy, 1);
      let gradients: RepresentationGradients = {};
      objectives.forEach((name, i) => {
        gradients[name] = parts[i]!;
      });
      const active = currentStep();
      if (active !== null) {
        // tfjs-layers runs a multi-output layer once per output and keeps the first run's tensors, so
        // repeated forward runs are harmless. A second backward run of the same layer is the misuse.
        if (active.step.countFanOut(layer) === 2) {
          active.warnOnce(
            `fan-out:${layer}`,
            `fan-out '${layer}' received gradients twice in one step, so each time it saw only some objectives' gradients and zeros for the others; compute the shared forward pass once per step and read each objective's slice from it`,
          );
        }
        gradients = active.bus.hooks.representationGradients.call(gradients, active.step, layer);
      }
      const combined = objectives.map((name) => gradients[name]!);
      return combined.length === 1 ? combined[0]! : tf.addN(combined);
    },
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.unstack(tile(z), 1);
}

/** Configuration of a `FanOut` layer. */
export interface FanOutConfig {
  /** One objective name per task head, in output order. */
  objectives: string[];
  name?: string;
}

/**
 * Layer form of `fanOut`: one input, one output per objective. Place it after
 * the shared trunk and connect task head k to output k. Registered with
 * tfjs serialization as `GradhooksFanOut`, so models that use it save and load.
 *
 * @example
 * ```ts
 * const [left, right] = new FanOut({ objectives: ['left', 'right'] }).apply(trunk) as tf.SymbolicTensor[];
 * ```
 */
export class FanOut extends layers.Layer {
  static readonly className = 'GradhooksFanOut';
  readonly objectives: string[];

  constructor(config: FanOutConfig) {
    super(config.name === undefined ? {} : { name: config.name });
    checkObjectives(config.objectives, 'FanOut');
    this.objectives = [...config.objectives];
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape[] {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
    return this.objectives.map(() => [...shape]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    return fanOut(input, this.objectives, this.name);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), objectives: [...this.objectives] };
  }
}

tf.serialization.registerClass(FanOut);

interface SymbolicEdge {
  id: number;
  sourceLayer: { inboundNodes: Array<{ inputTensors: SymbolicEdge[] }> } & object;
  nodeIndex: number;
  tensorIndex: number;
}

/** Model outputs that each output of a `FanOut` layer feeds. */
export interface FanOutWiring {
  layer: string;
  objectives: string[];
  /** For output k, the names of the model outputs computed from it. */
  feeds: string[][];
}

/** Traces, for every `FanOut` layer of a functional model, which model outputs each of its outputs feeds. */
export function fanOutWiring(model: { layers: unknown[]; outputs: unknown[]; outputNames: string[] }): FanOutWiring[] {
  const wiring = new Map<FanOut, FanOutWiring>();
  for (const layer of model.layers) {
    if (layer instanceof FanOut) {
      wiring.set(layer, { layer: layer.name, objectives: [...layer.objectives], feeds: layer.objectives.map(() => []) });
    }
  }
  if (wiring.size === 0) {
    return [];
  }
  model.outputs.forEach((output, index) => {
    const name = model.outputNames[index]!;
    const seen = new Set<number>();
    const visit = (tensor: SymbolicEdge) => {
      if (seen.has(tensor.id)) {
        return;
      }
      seen.add(tensor.id);
      const entry = tensor.sourceLayer instanceof FanOut ? wiring.get(tensor.sourceLayer) : undefined;
      if (entry !== undefined) {
        if (!entry.feeds[tensor.tensorIndex]!.includes(name)) {
          entry.feeds[tensor.tensorIndex]!.push(name);
        }
        return;
      }
      for (const input of tensor.sourceLayer.inboundNodes[tensor.nodeIndex]?.inputTensors ?? []) {
        visit(input);
      }
    };
    visit(output as SymbolicEdge);
  });
  return [...wiring.values()];
}

/**
 * Checks the labels of a model's `FanOut` layers against the outputs they
 * feed. A label that names a model output other than the one its slice feeds
 * is an error, because plugins that weight objectives by name would weight
 * the wrong head. Labels that name no model output are returned as a warning.
 */
export function checkFanOutLabels(model: { layers: unknown[]; outputs: unknown[]; outputNames: string[] }): string[] {
  const warnings: string[] = [];
  for (const { layer, objectives, feeds } of fanOutWiring(model)) {
    objectives.forEach((label, k) => {
      const fed = feeds[k]!;
      const misnamed = fed.length === 1 && fed[0] !== label && objectives.includes(fed[0]!);
      if (misnamed) {
        throw new GradhooksError(
          ErrorCode.ERR_FANOUT_INVALID,
          `Output ${k} of fan-out '${layer}' is labelled '${label}' but feeds the model output '${fed[0]}'.`,
          {
            received: objectives,
            expected: `labels in the order the outputs are wired: ${objectives.map((_, i) => feeds[i]!.join('+') || '(unused)').join(', ')}`,
            fix: `Give FanOut the objectives in the order its outputs feed the heads, or reconnect the heads.`,
          },
        );
      }
    });
    const unknown = objectives.filter((label) => !model.outputNames.includes(label));
    if (unknown.length > 0) {
      warnings.push(
        `fan-out '${layer}' labels [${unknown.join(', ')}] name no model output (outputs: ${model.outputNames.join(', ')}); telemetry and plugins that weight objectives by name use these labels`,
      );
    }
  }
  return warnings;
}
