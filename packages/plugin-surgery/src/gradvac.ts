import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';
import type { InputOf, JsonValue, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { vaccinate } from './math/vaccinate.js';
import { visitingOrder } from './visitingOrder.js';

const gradvacOptions = {
  type: 'object',
  properties: {
    beta: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.5,
      description: 'weight of the new cosine in the moving average of each target cosine; LibMTL beta',
    },
    epsilon: {
      type: 'number',
      minimum: 0,
      default: 1e-20,
      description: 'no adjustment towards a gradient whose squared norm is at most this, measured after the Gramian is divided by a power of four that brings its largest diagonal entry into [1, 4)',
    },
    order: {
      type: 'array',
      items: { type: 'array', items: { type: 'integer', minimum: 0 } },
      description: 'visiting order instead of the seeded shuffle: order[i] lists the positions of the other objectives in the order objective i visits them',
    },
  },
  additionalProperties: false,
} as const;

/** Options of `gradvac` as written in code or config. */
export type GradvacOptions = InputOf<typeof gradvacOptions>;
/** Options of `gradvac` after defaults. */
export type ResolvedGradvacOptions = OptionsOf<typeof gradvacOptions>;

/**
 * Target cosines by scope (`'parameters'` or a fan-out layer), then by the
 * objective adjusted and the objective it is adjusted towards.
 */
export type GradvacState = Record<string, Record<string, Record<string, number>>>;

/**
 * GradVac (Wang et al., "Gradient Vaccine: Investigating and Improving
 * Multi-task Optimization in Massively Multilingual Models", ICLR 2021),
 * with LibMTL's semantics over the whole model: each objective gradient is
 * moved towards every other one whose cosine with it is below a target
 * cosine, and each target is a moving average of the cosines seen, starting
 * at 0. Targets are kept by objective name, advance once per applied step,
 * and are saved in checkpoints.
 */
export const gradvac = definePlugin<ResolvedGradvacOptions, GradvacOptions>({
  name: 'gradvac',
  description: 'Moves each objective gradient towards the others until their cosine reaches a moving target (GradVac).',
  options: gradvacOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    let state: GradvacState = {};
    const instance = aggregatorInstance(context, {
      weighting: ({ gramian, objectives, step, scope }) => {
        const order = visitingOrder(objectives.length, options.order, context.random, context.name);
        const saved = state[scope] ?? {};
        const targets = objectives.map((i) => objectives.map((j) => saved[i]?.[j] ?? 0));
        const result = vaccinate(gramian!.normalized, order, targets, options.beta, options.epsilon);
        step.onCommit(() => {
          const next = { ...state[scope] };
          objectives.forEach((i, a) => {
            next[i] = { ...next[i] };
            objectives.forEach((j, b) => {
              if (a !== b) {
                next[i]![j] = result.targets[a]![b]!;
              }
            });
          });
          state = { ...state, [scope]: next };
        });
        return { weights: result.weights, projections: result.projections };
      },
    });
    return {
      ...instance,
      state: {
        save: () => state as unknown as JsonValue,
        load: (saved) => {
          state = checkState(saved, context.name);
        },
      },
    };
  },
});

function checkState(saved: JsonValue, plugin: string): GradvacState {
  const valid =
    isRecord(saved) &&
    Object.values(saved).every((scope) => isRecord(scope) && Object.values(scope).every((row) => isRecord(row) && Object.values(row).every((value) => typeof value === 'number')));
  if (!valid) {
    throw new GradhooksError(ErrorCode.ERR_PLUGIN_STATE_INVALID, `Plugin '${plugin}' cannot load its state: expected target cosines by scope and objective pair.`, {
      plugin,
      received: saved,
      expected: '{ scope: { objective: { other: number } } }',
      fix: 'Load a checkpoint that gradvac saved.',
    });
  }
  return structuredClone(saved) as unknown as GradvacState;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
