import { SyncBailHook, SyncHook, SyncWaterfallHook } from 'tapable';

import type { GradientMap, ObjectiveGradients, ObjectiveSources, RepresentationGradients } from './gradients.js';
import type { StepContext } from './StepContext.js';

/**
 * The hook table: every hook of one training step, in step order, with its
 * tapable class and argument names. `createHooks` builds the hooks from it,
 * and `HookSignatures` gives each tap's type. Both are keyed by `HookName`,
 * so a hook missing from either fails to compile.
 */
export const hookTable = {
  /** Step starts: reset per-step scratch, start timers. */
  beginStep: { kind: 'sync', args: ['step'] },
  /** Objectives as loss closures, before any gradient is taken; derived objectives are added here. */
  objectiveSources: { kind: 'waterfall', args: ['sources', 'step'] },
  /** One gradient map per objective: guards, accumulation, ProGrad, Bloop, GAQAT. */
  objectiveGradients: { kind: 'waterfall', args: ['gradients', 'step'] },
  /** Exactly one aggregator turns the objective gradients into one map; the weighted sum when none returns a map. */
  aggregate: { kind: 'bail', args: ['gradients', 'step'] },
  /** The combined gradient map: clipping, noise. Keys and their order must not change. */
  gradients: { kind: 'waterfall', args: ['gradients', 'step'] },
  /** Last look before the optimizer; a returned string skips the step with that reason. */
  beforeApply: { kind: 'bail', args: ['gradients', 'step'] },
  /** After the optimizer step and the commit of plugin state: weight EMA, statistics. */
  afterApply: { kind: 'sync', args: ['step'] },
  /** Per-objective gradients with respect to a shared representation, inside the fan-out op's backward pass. */
  representationGradients: { kind: 'waterfall', args: ['gradients', 'step', 'layer'] },
} as const satisfies Record<HookName, { kind: 'sync' | 'waterfall' | 'bail'; args: readonly string[] }>;

/** Signature of a tap on each hook. */
export interface HookSignatures {
  beginStep: (step: StepContext) => void;
  objectiveSources: (sources: ObjectiveSources, step: StepContext) => ObjectiveSources;
  objectiveGradients: (gradients: ObjectiveGradients, step: StepContext) => ObjectiveGradients;
  aggregate: (gradients: ObjectiveGradients, step: StepContext) => GradientMap | undefined;
  gradients: (gradients: GradientMap, step: StepContext) => GradientMap;
  beforeApply: (gradients: GradientMap, step: StepContext) => string | undefined;
  afterApply: (step: StepContext) => void;
  representationGradients: (
    gradients: RepresentationGradients,
    step: StepContext,
    layer: string,
  ) => RepresentationGradients;
}

export type HookName = keyof HookSignatures;

/** Names of all hooks, in step order. */
export const hookNames = Object.keys(hookTable) as HookName[];

/** The tapable hook instances of one bus. */
export interface Hooks {
  beginStep: SyncHook<[StepContext]>;
  objectiveSources: SyncWaterfallHook<[ObjectiveSources, StepContext]>;
  objectiveGradients: SyncWaterfallHook<[ObjectiveGradients, StepContext]>;
  aggregate: SyncBailHook<[ObjectiveGradients, StepContext], GradientMap | undefined>;
  gradients: SyncWaterfallHook<[GradientMap, StepContext]>;
  beforeApply: SyncBailHook<[GradientMap, StepContext], string | undefined>;
  afterApply: SyncHook<[StepContext]>;
  representationGradients: SyncWaterfallHook<[RepresentationGradients, StepContext, string]>;
}

const hookClasses = { sync: SyncHook, waterfall: SyncWaterfallHook, bail: SyncBailHook } as const;

/** Builds one tapable hook per table entry, with the table's class and argument names. */
export function createHooks(): Hooks {
  const hooks: Partial<Record<HookName, unknown>> = {};
  for (const name of hookNames) {
    const spec = hookTable[name];
    const HookClass = hookClasses[spec.kind];
    hooks[name] = new HookClass([...spec.args] as never, name);
  }
  return hooks as Hooks;
}

/** Position of the `StepContext` argument in each hook's arguments. */
export function stepArgumentIndex(hook: HookName): number {
  return (hookTable[hook].args as readonly string[]).indexOf('step');
}
