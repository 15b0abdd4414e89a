import { definePlugin } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { aggregatorInstance } from './aggregator.js';
import { dualProjWeights, upgradWeights } from './math/dualCone.js';

const dualConeOptions = {
  type: 'object',
  properties: {
    normEps: {
      type: 'number',
      minimum: 0,
      default: 1e-4,
      description: 'trace of the Gramian (sum of squared gradient norms) below which it counts as zero; TorchJD norm_eps',
    },
    regEps: {
      type: 'number',
      minimum: 0,
      default: 1e-4,
      description: 'ridge added to the trace-normalised Gramian before each projection; TorchJD reg_eps',
    },
  },
  additionalProperties: false,
} as const;

/** Options of `upgrad` and `dualproj` as written in code or config. */
export type DualConeOptions = InputOf<typeof dualConeOptions>;
/** Options of `upgrad` and `dualproj` after defaults. */
export type ResolvedDualConeOptions = OptionsOf<typeof dualConeOptions>;

/**
 * UPGrad (Quinton & Rey, "Jacobian Descent for Multi-Objective
 * Optimization", 2024): projects each objective's share of the mean onto the
 * dual cone of the objective gradients and sums the projections, so the
 * update conflicts with none of them. Computed from the Gramian with quadprog.
 */
export const upgrad = definePlugin<ResolvedDualConeOptions, DualConeOptions>({
  name: 'upgrad',
  description: 'Projects each objective share of the mean onto the dual cone of the gradients and sums them (UPGrad).',
  options: dualConeOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian, objectives }) => ({ weights: upgradWeights(gramian!.matrix, objectives.map(() => 1 / objectives.length), options) }),
    });
  },
});

/**
 * DualProj (TorchJD): projects the mean of the objective gradients onto
 * their dual cone, the closest update that conflicts with none of them.
 */
export const dualproj = definePlugin<ResolvedDualConeOptions, DualConeOptions>({
  name: 'dualproj',
  description: 'Projects the mean of the objective gradients onto their dual cone (DualProj).',
  options: dualConeOptions,
  exclusiveGroup: 'aggregator',
  create(options, context) {
    return aggregatorInstance(context, {
      weighting: ({ gramian, objectives }) => ({ weights: dualProjWeights(gramian!.matrix, objectives.map(() => 1 / objectives.length), options) }),
    });
  },
});
