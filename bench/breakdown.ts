import * as tf from '@tensorflow/tfjs';

import { firstNonFiniteVariable, HookedOptimizer, partitionVariables } from '@gradhooks/core';
import type { GradientMap, ObjectiveGradients, StepEvent } from '@gradhooks/core';
import { clipByGlobalNorm } from '@gradhooks/plugin-clip';
import { gramianOf, pcgrad, projectConflicting, stackAligned } from '@gradhooks/plugin-surgery';

import { crossEntropy, singleHeadModel, trainableVariablesOf, twoHeadModel } from './models.js';
import type { Batch } from './models.js';
import { median } from './stats.js';

/** Median time of one phase of a step. */
export interface PhaseRow {
  group: string;
  phase: string;
  medianMs: number;
}

/** Records the time between consecutive laps under each lap's name. */
class PhaseClock {
  readonly samples = new Map<string, number[]>();
  private last = 0;

  start(): void {
    this.last = performance.now();
  }

  lap(phase: string): void {
    const now = performance.now();
    this.record(phase, now - this.last);
    this.last = now;
  }

  record(phase: string, milliseconds: number): void {
    const list = this.samples.get(phase) ?? [];
    list.push(milliseconds);
    this.samples.set(phase, list);
  }
}

/**
 * Times the phases of these steps, interleaved step by step:
 *
 * - a single-objective hooked step with the guard on, rebuilt from its parts
 *   (one gradient pass, the guard's non-finite probe, the SGD update, the loss read),
 *   once without plugins and once with clip-global-norm's clipping function;
 * - a parameter-level PCGrad step with two objectives, rebuilt from the
 *   exported functions it runs. Its phases are two gradient passes, the
 *   stacking of the shared gradients into a [2, P] matrix, the Gramian with
 *   its device read, the projection on the host, the weighted combination,
 *   the guard and the update;
 * - the real `HookedOptimizer` PCGrad steps at both levels, with the
 *   session's own telemetry: `durationMs` of the step and `pluginMs` of the
 *   pcgrad taps. At the representation level the tap runs inside the fan-out
 *   op's backward pass.
 *
 * The wasm and cpu backends run every kernel synchronously, so a lap between
 * two operations measures their work. Backends that queue work on a device
 * would need a read before each lap.
 */
export function runBreakdown(batch: Batch, steps: number, warmupSteps: number): PhaseRow[] {
  const mlp = singleHeadModel('breakdown_mlp');
  const mlpVariables = trainableVariablesOf(mlp);
  const mlpNames = mlpVariables.map((variable) => variable.name);
  const mlpOptimizer = tf.train.sgd(0.01);
  const mlpLoss = () => crossEntropy(batch.left, mlp.apply(batch.x) as tf.Tensor);

  const twoHead = twoHeadModel('breakdown_two_head', { fanOut: false });
  const variables = trainableVariablesOf(twoHead);
  const names = variables.map((variable) => variable.name);
  const shapes = new Map(variables.map((variable) => [variable.name, variable.shape]));
  const surgeryOptimizer = tf.train.sgd(0.01);
  const left = () => crossEntropy(batch.left, (twoHead.apply(batch.x) as tf.Tensor[])[0]!);
  const right = () => crossEntropy(batch.right, (twoHead.apply(batch.x) as tf.Tensor[])[1]!);

  const fanOutModel = twoHeadModel('breakdown_fan_out', { fanOut: true });
  const fanOutVariables = trainableVariablesOf(fanOutModel);
  let fanOutOutputs: tf.Tensor[] | undefined;
  const fanOutForward = () => (fanOutOutputs ??= fanOutModel.apply(batch.x) as tf.Tensor[]);

  // telemetry.every makes only the first call a reporting step, so later steps skip the conflict report's device reads.
  const telemetryOptions = { every: 1_000_000_000 };
  const hookedParameter = new HookedOptimizer(tf.train.sgd(0.01), { plugins: [pcgrad({ seed: 1 })], telemetry: telemetryOptions });
  const hookedRepresentation = new HookedOptimizer(tf.train.sgd(0.01), {
    plugins: [pcgrad({ seed: 1 })],
    level: 'representation',
    telemetry: telemetryOptions,
  });
  let lastEvent: StepEvent | undefined;
  hookedParameter.telemetry.on('step', (event) => {
    lastEvent = event;
  });
  hookedRepresentation.telemetry.on('step', (event) => {
    lastEvent = event;
  });

  const single = new PhaseClock();
  const clipped = new PhaseClock();
  const surgery = new PhaseClock();
  const parameter = new PhaseClock();
  const representation = new PhaseClock();

  for (let i = 0; i < warmupSteps + steps; i++) {
    const clocks = i < warmupSteps ? undefined : { single, clipped, surgery, parameter, representation };
    singleObjectiveStep(clocks?.single ?? new PhaseClock(), mlpOptimizer, mlpLoss, mlpVariables, mlpNames, false);
    singleObjectiveStep(clocks?.clipped ?? new PhaseClock(), mlpOptimizer, mlpLoss, mlpVariables, mlpNames, true);
    parameterSurgeryStep(clocks?.surgery ?? new PhaseClock(), surgeryOptimizer, { left, right }, variables, names, shapes);

    const parameterClock = clocks?.parameter ?? new PhaseClock();
    parameterClock.start();
    hookedParameter.step({ left, right }, { variables });
    parameterClock.lap('wall time of HookedOptimizer.step');
    parameterClock.record('session durationMs (telemetry)', lastEvent!.durationMs);
    parameterClock.record('pcgrad aggregate tap (telemetry pluginMs)', lastEvent!.pluginMs['pcgrad'] ?? 0);

    const representationClock = clocks?.representation ?? new PhaseClock();
    representationClock.start();
    try {
      hookedRepresentation.step(
        { left: () => crossEntropy(batch.left, fanOutForward()[0]!), right: () => crossEntropy(batch.right, fanOutForward()[1]!) },
        { variables: fanOutVariables },
      );
    } finally {
      fanOutOutputs = undefined;
    }
    representationClock.lap('wall time of HookedOptimizer.step');
    representationClock.record('session durationMs (telemetry)', lastEvent!.durationMs);
    representationClock.record('pcgrad representationGradients tap (telemetry pluginMs)', lastEvent!.pluginMs['pcgrad'] ?? 0);
  }

  return [
    ...rows('hooked step, 1 objective, guard on (rebuilt, MLP)', single),
    ...rows('hooked step + clip-global-norm, guard on (rebuilt, MLP)', clipped),
    ...rows('PCGrad step, parameter level (rebuilt, two-head)', surgery),
    ...rows('PCGrad step, parameter level (HookedOptimizer)', parameter),
    ...rows('PCGrad step, representation level (HookedOptimizer)', representation),
  ];
}

function rows(group: string, clock: PhaseClock): PhaseRow[] {
  return [...clock.samples].map(([phase, samples]) => ({ group, phase, medianMs: median(samples) }));
}

/**
 * Runs the work of `HookedOptimizer.minimize` with the guard on, timing each
 * phase. With `clip`, it adds the clipping that clip-global-norm (maxNorm 5,
 * L2 norm) applies to all gradients.
 */
function singleObjectiveStep(
  clock: PhaseClock,
  optimizer: tf.Optimizer,
  loss: () => tf.Scalar,
  variables: tf.Variable[],
  names: readonly string[],
  clip: boolean,
): void {
  tf.tidy(() => {
    clock.start();
    let { value, grads } = tf.variableGrads(loss, variables);
    clock.lap('forward + backward pass');
    if (clip) {
      grads = clipByGlobalNorm(grads, 5).gradients as tf.NamedTensorMap;
      clock.lap('clipByGlobalNorm: L2 norm + scaling');
    }
    if (firstNonFiniteVariable(grads, names) !== undefined) {
      throw new Error('The benchmark produced a non-finite gradient.');
    }
    clock.lap('guard: non-finite probe + device read');
    optimizer.applyGradients(names.map((name) => ({ name, tensor: grads[name]! })));
    clock.lap('SGD applyGradients');
    value.dataSync();
    clock.lap('loss read');
  });
}

/** Runs the work of a parameter-level PCGrad step with two objectives, timing each phase. */
function parameterSurgeryStep(
  clock: PhaseClock,
  optimizer: tf.Optimizer,
  objectives: { left: () => tf.Scalar; right: () => tf.Scalar },
  variables: tf.Variable[],
  names: readonly string[],
  shapes: ReadonlyMap<string, readonly number[]>,
): void {
  tf.tidy(() => {
    clock.start();
    const left = tf.variableGrads(objectives.left, variables);
    clock.lap('forward + backward pass, left');
    const right = tf.variableGrads(objectives.right, variables);
    clock.lap('forward + backward pass, right');

    const gradients: ObjectiveGradients = { left: left.grads, right: right.grads };
    const { shared } = partitionVariables(gradients, names);
    const matrix = stackAligned([left.grads, right.grads], shared, shapes);
    clock.lap(`stack shared gradients into [2, ${matrix.shape[1]}]`);
    const gramian = gramianOf(matrix);
    clock.lap('Gramian on device + read of 5 numbers');
    const { weights } = projectConflicting(gramian.normalized, [[1], [0]], 1e-20, 'sum');
    clock.lap('projection solve on the host');

    const combined: GradientMap = {};
    const sharedNames = new Set(shared);
    for (const name of names) {
      const a = left.grads[name];
      const b = right.grads[name];
      if (sharedNames.has(name)) {
        combined[name] = tf.add(weights[0] === 1 ? a! : tf.mul(a!, weights[0]!), weights[1] === 1 ? b! : tf.mul(b!, weights[1]!));
      } else {
        combined[name] = a ?? b ?? null;
      }
    }
    clock.lap('weighted combination');
    if (firstNonFiniteVariable(combined, names) !== undefined) {
      throw new Error('The benchmark produced a non-finite gradient.');
    }
    clock.lap('guard: non-finite probe + device read');
    optimizer.applyGradients(names.map((name) => ({ name, tensor: combined[name]! })));
    clock.lap('SGD applyGradients');
    tf.stack([left.value, right.value]).dataSync();
    clock.lap('loss read');
  });
}
