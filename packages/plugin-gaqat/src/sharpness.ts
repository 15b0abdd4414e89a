import * as tf from '@tensorflow/tfjs-core';

import { definePlugin, ErrorCode, GradhooksError, Stage } from '@gradhooks/core';
import type { InputOf, ObjectiveResult, ObjectiveSource, OptionsOf, PluginContext, StepContext } from '@gradhooks/core';

import { evaluateAtPerturbedWeights, evaluateSource, perturbedObjective, surrogateGap } from './sharpnessPass.js';

/** Options shared by `sam` and `sharpness`: the SAM perturbation. */
const perturbationProperties = {
  rho: {
    type: 'number',
    exclusiveMinimum: 0,
    default: 0.05,
    description: 'radius of the weight perturbation: the L2 norm of rho·g/|g| (of the scaled step in the adaptive form)',
  },
  adaptive: {
    type: 'boolean',
    default: false,
    description: 'adaptive SAM (ASAM): scale the perturbation element-wise by T = |w| + eta',
  },
  eta: {
    type: 'number',
    minimum: 0,
    default: 0.01,
    description: 'eta added to |w| in the adaptive form; unused otherwise',
  },
  objective: {
    type: 'string',
    minLength: 1,
    description: "objective whose loss is re-run at the perturbed weights; defaults to the step's only objective",
  },
} as const;

const samOptions = {
  type: 'object',
  properties: perturbationProperties,
  additionalProperties: false,
} as const;

const sharpnessOptions = {
  type: 'object',
  properties: {
    ...perturbationProperties,
    smoothness: {
      type: 'string',
      minLength: 1,
      default: 'smoothness',
      description: 'name of the objective this plugin adds',
    },
    form: {
      type: 'string',
      enum: ['perturbed', 'gap'],
      default: 'perturbed',
      description:
        'perturbed: the added objective is L(w + e) with gradient at w + e; gap: it is L(w + e) - L(w), so it and the perturbed objective sum to SAM',
    },
  },
  additionalProperties: false,
} as const;

/** `sam` options as written in code or config. */
export type SamOptions = InputOf<typeof samOptions>;
/** `sam` options after defaults. */
export type ResolvedSamOptions = OptionsOf<typeof samOptions>;
/** `sharpness` options as written in code or config. */
export type SharpnessOptions = InputOf<typeof sharpnessOptions>;
/** `sharpness` options after defaults. */
export type ResolvedSharpnessOptions = OptionsOf<typeof sharpnessOptions>;

/** Copies a source's weight onto a replacement source. */
function withWeight(source: ObjectiveSource, replacement: ObjectiveSource): ObjectiveSource {
  return source.weight === undefined ? replacement : { ...replacement, weight: source.weight };
}

/** Emits the loss before and after the perturbation on reporting steps; reading them synchronizes. */
function reportLosses(step: StepContext, context: PluginContext, atWeights: ObjectiveResult, perturbed: ObjectiveResult): void {
  if (!step.report) {
    return;
  }
  const [loss, perturbedLoss] = tf.tidy(() => Array.from(tf.stack([atWeights.value, perturbed.value]).dataSync()));
  step.emit('state', { plugin: context.name, values: { loss: loss!, perturbedLoss: perturbedLoss! } });
}

/**
 * Plain SAM (Foret et al., "Sharpness-Aware Minimization for Efficiently
 * Improving Generalization", ICLR 2021): the perturbed objective's gradient
 * is replaced by the gradient at w + ρ·g/‖g‖, the weights are restored, and
 * the optimizer applies that gradient at w. Its loss value stays L(w). Costs
 * two forward and backward passes of that objective per step.
 */
export const sam = definePlugin<ResolvedSamOptions, SamOptions>({
  name: 'sam',
  description: 'Sharpness-aware minimization: applies the gradient taken at weights perturbed by rho·g/|g|.',
  options: samOptions,
  stage: Stage.ALIGN,
  exclusiveGroup: 'sharpness',
  objectiveOptions: ['objective'],
  levels: ['parameter'],
  create(options, context) {
    const settings = { rho: options.rho, adaptive: options.adaptive, eta: options.eta };
    return {
      objectiveSources: (sources, step) => {
        if (step.flushing) {
          return sources;
        }
        const name = perturbedObjective(sources, options.objective, undefined, context.name);
        const original = sources[name]!;
        const replaced = withWeight(original, {
          gradients: (variables) => {
            const atWeights = evaluateSource(original, variables);
            const perturbed = evaluateAtPerturbedWeights(original, variables, atWeights.grads, settings, context.matchesVariable);
            reportLosses(step, context, atWeights, perturbed);
            return { value: atWeights.value, grads: perturbed.grads };
          },
        });
        return { ...sources, [name]: replaced };
      },
    };
  },
});

/**
 * Adds a sharpness objective (default name `smoothness`) next to the
 * objective it perturbs, so other plugins see two gradient maps: the task
 * gradient at w and the gradient of the sharpness term. With `form:
 * 'perturbed'` the new objective is L(w + ε) with its gradient at w + ε; with
 * `form: 'gap'` it is the surrogate gap L(w + ε) - L(w), so the two
 * objectives sum to plain SAM. ε = ρ·g/‖g‖ (or the adaptive form) comes from
 * the task gradient, which the step computes once and this plugin reuses.
 * The weights are restored exactly after the perturbed pass.
 *
 * Declared session objectives must include the added name, for example
 * `objectives: ['task', 'smoothness']`; inside `model.fit` the declared
 * objective this plugin does not derive names the model's loss.
 */
export const sharpness = definePlugin<ResolvedSharpnessOptions, SharpnessOptions>({
  name: 'sharpness',
  description: 'Adds a smoothness objective: the loss and gradient at weights perturbed by rho·g/|g| (or its gap to the unperturbed loss).',
  options: sharpnessOptions,
  stage: Stage.ALIGN,
  exclusiveGroup: 'sharpness',
  objectiveOptions: ['objective'],
  derivedObjectives: (options) => [String(options['smoothness'])],
  levels: ['parameter'],
  create(options, context) {
    const settings = { rho: options.rho, adaptive: options.adaptive, eta: options.eta };
    return {
      objectiveSources: (sources, step) => {
        if (step.flushing) {
          return sources;
        }
        if (options.smoothness in sources) {
          throw new GradhooksError(
            ErrorCode.ERR_OPTIONS_INVALID,
            `Plugin '${context.name}' adds objective '${options.smoothness}', but the step already has an objective of that name.`,
            {
              plugin: context.name,
              path: '/smoothness',
              received: options.smoothness,
              expected: `a name other than ${Object.keys(sources).join(', ')}`,
              fix: `Pass only the task objective to the step, or set 'smoothness' to another name.`,
            },
          );
        }
        const name = perturbedObjective(sources, options.objective, options.smoothness, context.name);
        const original = sources[name]!;
        // The task gradient at w is computed once, by the step, and reused for the perturbation.
        let atWeights: ObjectiveResult | undefined;
        const task = withWeight(original, {
          gradients: (variables) => {
            atWeights = evaluateSource(original, variables);
            return atWeights;
          },
        });
        const smoothness: ObjectiveSource = {
          gradients: (variables) => {
            const base = atWeights ?? evaluateSource(original, variables);
            const perturbed = evaluateAtPerturbedWeights(original, variables, base.grads, settings, context.matchesVariable);
            reportLosses(step, context, base, perturbed);
            return options.form === 'gap' ? surrogateGap(perturbed, base) : perturbed;
          },
        };
        return { ...sources, [name]: task, [options.smoothness]: smoothness };
      },
    };
  },
});
