import * as tf from '@tensorflow/tfjs-core';

import { ErrorCode, GradhooksError } from './errors.js';
import type { GradientMap, ObjectiveGradients, RepresentationGradients } from './gradients.js';
import { createHooks, hookNames, hookTable, stepArgumentIndex } from './hooks.js';
import type { HookName, Hooks, HookSignatures } from './hooks.js';
import { Stage } from './stages.js';
import { StepSkip } from './StepContext.js';
import type { StepContext } from './StepContext.js';

/** Stage offset that puts dry-run taps of bail hooks before every real tap. */
const DRY_RUN_BAIL_OFFSET = -1_000_000;

/** Options of one tap. */
export interface TapOptions {
  /** Order among the hook's taps; use `Stage` constants. Defaults to the plugin's stage. */
  stage?: number;
}

/** A hook as plugins see it: it can be tapped but not called. */
export interface TapOnlyHook<H extends HookName> {
  tap(fn: HookSignatures[H], options?: TapOptions): void;
}

/** The tap-only view of every hook, handed to plugins. */
export type TapOnlyHooks = { readonly [H in HookName]: TapOnlyHook<H> };

/** A registered tap, as `HookBus.describe` lists it. */
export interface TapDescription {
  hook: HookName;
  plugin: string;
  stage: number;
  dryRun: boolean;
}

interface TapInfo {
  name: string;
  fn: (...args: unknown[]) => unknown;
  stage?: number;
  dryRun?: boolean;
}

/**
 * The hook bus: the tapable hooks of the step, with core's interceptors
 * installed once. The interceptors name the plugin and hook in every error a
 * tap throws, check what each tap returns (variable names, shapes, key
 * order), time the taps, and run dry-run taps without applying their result.
 */
export class HookBus {
  /** @internal The callable hooks; only the session calls them. */
  readonly hooks: Hooks;
  private readonly registered: TapDescription[] = [];

  constructor() {
    this.hooks = createHooks();
    for (const name of hookNames) {
      (this.hooks[name] as unknown as { intercept(interceptor: { register: (tap: TapInfo) => TapInfo }): void }).intercept({
        register: (tap) => this.wrapTap(name, tap),
      });
    }
  }

  /** Returns a tap-only view of the hooks whose taps carry `plugin`'s name. */
  tapView(plugin: string, defaults: { stage?: number; dryRun?: boolean } = {}): TapOnlyHooks {
    const view: Partial<Record<HookName, TapOnlyHook<HookName>>> = {};
    for (const name of hookNames) {
      view[name] = {
        tap: (fn: unknown, options: TapOptions = {}) => {
          if (typeof fn !== 'function') {
            throw new GradhooksError(
              ErrorCode.ERR_PLUGIN_DEFINITION_INVALID,
              `Plugin '${plugin}' tried to tap hook '${name}' with ${typeof fn} instead of a function.`,
              { plugin, hook: name, received: typeof fn, expected: 'a function', fix: 'Pass the tap function itself.' },
            );
          }
          const dryRun = defaults.dryRun ?? false;
          const requested = options.stage ?? defaults.stage ?? Stage.SURGERY;
          // On a bail hook the first tap that returns a value stops the others, and a dry-run tap
          // returns nothing, so dry-run taps go first there or a real aggregator would hide them.
          const stage = dryRun && hookTable[name].kind === 'bail' ? requested + DRY_RUN_BAIL_OFFSET : requested;
          this.registered.push({ hook: name, plugin, stage, dryRun });
          (this.hooks[name] as unknown as { tap(options: object, fn: unknown): void }).tap(
            { name: plugin, stage, dryRun },
            fn,
          );
        },
      } as TapOnlyHook<HookName>;
    }
    return Object.freeze(view) as TapOnlyHooks;
  }

  /** Lists the registered taps, hook by hook in step order and by stage within a hook. */
  describe(): TapDescription[] {
    return hookNames.flatMap((hook) =>
      this.registered.filter((tap) => tap.hook === hook).sort((a, b) => a.stage - b.stage),
    );
  }

  /** Reports whether any plugin taps `hook`. */
  isUsed(hook: HookName): boolean {
    return this.hooks[hook].isUsed();
  }

  private wrapTap(hook: HookName, tap: TapInfo): TapInfo {
    const original = tap.fn;
    const plugin = tap.name;
    const stepIndex = stepArgumentIndex(hook);
    const dryRun = tap.dryRun === true;
    tap.fn = (...args: unknown[]) => {
      const step = args[stepIndex] as StepContext;
      const previous = step.currentPlugin;
      step.currentPlugin = plugin;
      const started = performance.now();
      try {
        if (dryRun) {
          return runDry(hook, original, args, step);
        }
        const result = original(...args);
        checkTapResult(hook, args, result, step, plugin);
        if (hook === 'beforeApply' && typeof result === 'string') {
          throw new StepSkip(result);
        }
        return result;
      } catch (error) {
        throw attributeError(error, plugin, hook);
      } finally {
        step.addPluginTime(plugin, performance.now() - started);
        step.currentPlugin = previous;
      }
    };
    return tap;
  }
}

/** Adds the plugin and hook to an error a tap threw; skips pass through unchanged. */
function attributeError(error: unknown, plugin: string, hook: HookName): unknown {
  if (error instanceof StepSkip) {
    error.plugin ??= plugin;
    return error;
  }
  if (error instanceof GradhooksError && error.plugin !== undefined) {
    return error;
  }
  const applied = hook === 'afterApply';
  const consequence = applied
    ? 'The optimizer had already applied this step.'
    : 'No variable was changed and no plugin state advanced.';
  const message = error instanceof Error ? error.message : String(error);
  const reason = /[.!?]$/.test(message.trim()) ? message.trim() : `${message.trim()}.`;
  if (error instanceof GradhooksError) {
    return new GradhooksError(error.code, `Plugin '${plugin}' failed in hook '${hook}': ${reason} ${consequence}`, {
      plugin,
      hook,
      path: error.path,
      received: error.received,
      expected: error.expected,
      fix: error.fix,
      variable: error.variable,
      cause: error,
    });
  }
  return new GradhooksError(
    ErrorCode.ERR_PLUGIN_FAILED,
    `Plugin '${plugin}' failed in hook '${hook}': ${reason} ${consequence}`,
    { plugin, hook, cause: error, fix: `See the cause of this error; check the options of '${plugin}'.` },
  );
}

function checkTapResult(hook: HookName, args: unknown[], result: unknown, step: StepContext, plugin: string): void {
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw invalidResult(plugin, hook, 'a Promise', 'a value returned synchronously (taps cannot be async functions, because tfjs optimizers step synchronously)');
  }
  checkInputsAlive(hook, args[0], plugin);
  switch (hook) {
    case 'objectiveSources':
      checkSources(result, plugin, hook);
      break;
    case 'objectiveGradients':
      checkObjectiveGradients(result, step, plugin, hook);
      break;
    case 'aggregate':
      if (result !== undefined) {
        checkGradientMap(result, step, plugin, hook, 'the combined gradients');
      }
      break;
    case 'gradients':
      checkGradientMap(result, step, plugin, hook, 'the combined gradients');
      checkSameKeys(args[0] as GradientMap, result as GradientMap, plugin, hook);
      break;
    case 'beforeApply':
      if (result !== undefined && typeof result !== 'string') {
        throw invalidResult(plugin, hook, result, 'undefined to continue, or a string that names the reason to skip');
      }
      break;
    case 'representationGradients':
      checkRepresentation(args[0] as RepresentationGradients, result, plugin, hook);
      break;
    default:
      break;
  }
}

function invalidResult(plugin: string, hook: HookName, received: unknown, expected: string): GradhooksError {
  const kind = typeof received === 'string' ? received : describeKind(received);
  return new GradhooksError(
    ErrorCode.ERR_PLUGIN_FAILED,
    `Plugin '${plugin}' returned ${kind} from hook '${hook}', which is invalid: expected ${expected}.`,
    { plugin, hook, received: kind, expected, fix: `Return ${expected} from the '${hook}' tap.` },
  );
}

function describeKind(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (value instanceof tf.Tensor) {
    return `Tensor of shape [${value.shape.join(', ')}]`;
  }
  return Array.isArray(value) ? 'array' : typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof tf.Tensor);
}

function checkSources(result: unknown, plugin: string, hook: HookName): void {
  if (!isPlainObject(result)) {
    throw invalidResult(plugin, hook, result, 'an object of objective sources');
  }
  for (const [name, source] of Object.entries(result)) {
    const valid =
      isPlainObject(source) &&
      (typeof source['loss'] === 'function' || typeof source['gradients'] === 'function');
    if (!valid) {
      throw invalidResult(plugin, hook, source, `objective '${name}' as { loss: () => Scalar } or { gradients: (variables) => ... }`);
    }
  }
}

function checkObjectiveGradients(result: unknown, step: StepContext, plugin: string, hook: HookName): void {
  if (!isPlainObject(result)) {
    throw invalidResult(plugin, hook, result, 'an object with one gradient map per objective');
  }
  for (const [objective, map] of Object.entries(result)) {
    checkGradientMap(map, step, plugin, hook, `the gradients of objective '${objective}'`);
  }
}

function checkGradientMap(map: unknown, step: StepContext, plugin: string, hook: HookName, what: string): void {
  if (!isPlainObject(map)) {
    throw invalidResult(plugin, hook, map, `${what} as an object from variable name to tensor or null`);
  }
  for (const [name, tensor] of Object.entries(map)) {
    if (tensor === null) {
      continue;
    }
    const shape = step.variableShape(name);
    if (shape === undefined) {
      throw new GradhooksError(
        ErrorCode.ERR_GRADIENT_UNKNOWN_VARIABLE,
        `Plugin '${plugin}' returned a gradient for '${name}' in ${what} from hook '${hook}', but the optimizer has no such variable.`,
        {
          plugin,
          hook,
          variable: name,
          received: name,
          expected: `one of ${step.variableNames.length} variable names, such as '${step.variableNames[0] ?? ''}'`,
          fix: 'Key gradients by the names of the variables being trained; do not add entries.',
        },
      );
    }
    if (!(tensor instanceof tf.Tensor)) {
      throw invalidResult(plugin, hook, tensor, `a tensor or null for variable '${name}' in ${what}`);
    }
    if (tensor.isDisposed) {
      throw invalidResult(plugin, hook, 'a disposed tensor', `a live tensor for variable '${name}' in ${what}`);
    }
    if (tensor.dtype !== 'float32') {
      throw invalidResult(plugin, hook, `a ${tensor.dtype} tensor`, `a float32 gradient for variable '${name}' in ${what}`);
    }
    if (!sameShape(tensor.shape, shape)) {
      throw new GradhooksError(
        ErrorCode.ERR_GRADIENT_SHAPE_MISMATCH,
        `Plugin '${plugin}' returned a gradient of shape [${tensor.shape.join(', ')}] for '${name}' from hook '${hook}', but the variable has shape [${shape.join(', ')}].`,
        {
          plugin,
          hook,
          variable: name,
          received: tensor.shape,
          expected: `shape [${shape.join(', ')}]`,
          fix: 'Return each gradient with the shape of its variable.',
        },
      );
    }
  }
}

/**
 * Rejects a tap that disposed gradients it received: the step frees every
 * tensor it created when it ends, and later taps and the optimizer still read them.
 */
function checkInputsAlive(hook: HookName, input: unknown, plugin: string): void {
  const maps: unknown[] =
    hook === 'objectiveGradients' || hook === 'aggregate'
      ? Object.values((input ?? {}) as Record<string, unknown>)
      : hook === 'gradients' || hook === 'beforeApply' || hook === 'representationGradients'
        ? [input]
        : [];
  for (const map of maps) {
    for (const [name, tensor] of Object.entries((map ?? {}) as Record<string, unknown>)) {
      if (tensor instanceof tf.Tensor && tensor.isDisposed) {
        throw new GradhooksError(
          ErrorCode.ERR_PLUGIN_FAILED,
          `Plugin '${plugin}' disposed the gradient of '${name}' it received in hook '${hook}'.`,
          {
            plugin,
            hook,
            variable: name,
            received: 'a disposed input tensor',
            expected: 'inputs left alive',
            fix: 'Do not dispose tensors a tap receives; the step frees every tensor it created when it ends.',
          },
        );
      }
    }
  }
}

function checkSameKeys(before: GradientMap, after: GradientMap, plugin: string, hook: HookName): void {
  const expected = Object.keys(before);
  const received = Object.keys(after);
  const same = expected.length === received.length && expected.every((name, i) => received[i] === name);
  if (!same) {
    throw new GradhooksError(
      ErrorCode.ERR_GRADIENT_KEYS_CHANGED,
      `Plugin '${plugin}' changed the variable keys of the combined gradients in hook '${hook}'. ` +
        'tfjs optimizers key their slot variables by position, so keys must keep their set and order.',
      {
        plugin,
        hook,
        received: received.slice(0, 8),
        expected: `the ${expected.length} keys received, in the same order`,
        fix: 'Build the returned map by iterating over the keys received; put null where a variable has no gradient.',
      },
    );
  }
}

function checkRepresentation(before: RepresentationGradients, result: unknown, plugin: string, hook: HookName): void {
  if (!isPlainObject(result)) {
    throw invalidResult(plugin, hook, result, 'an object with one tensor per objective');
  }
  for (const [name, tensor] of Object.entries(before)) {
    const next = result[name];
    if (!(next instanceof tf.Tensor) || !sameShape(next.shape, tensor.shape)) {
      throw invalidResult(plugin, hook, next, `a tensor of shape [${tensor.shape.join(', ')}] for objective '${name}'`);
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, i) => size === b[i]);
}

/**
 * Runs a dry-run tap: computes what it would do, reports it as a `dryRun`
 * event on reporting steps, and returns what the hook would have returned
 * without the tap.
 */
function runDry(hook: HookName, tap: (...args: unknown[]) => unknown, args: unknown[], step: StepContext): unknown {
  const kind = hookTable[hook].kind;
  let result: unknown;
  try {
    result = tap(...args);
  } catch (error) {
    if (error instanceof StepSkip) {
      step.emit('dryRun', { hook, wouldSkip: error.reason });
      return kind === 'waterfall' ? args[0] : undefined;
    }
    throw error;
  }
  if (kind === 'sync') {
    return undefined;
  }
  if (hook === 'beforeApply') {
    if (typeof result === 'string') {
      step.emit('dryRun', { hook, wouldSkip: result });
    }
    return undefined;
  }
  if (step.report && result !== undefined) {
    const relativeChange = relativeChangeOf(hook, args[0], result);
    step.emit('dryRun', { hook, ...(relativeChange === undefined ? {} : { relativeChange }) });
  }
  return kind === 'waterfall' ? args[0] : undefined;
}

function relativeChangeOf(hook: HookName, before: unknown, after: unknown): number | undefined {
  const pairs: Array<[tf.Tensor, tf.Tensor]> = [];
  const collect = (a: GradientMap | RepresentationGradients, b: GradientMap | RepresentationGradients) => {
    for (const [name, tensor] of Object.entries(a)) {
      const other = b[name];
      if (tensor instanceof tf.Tensor && other instanceof tf.Tensor) {
        pairs.push([tensor, other]);
      }
    }
  };
  if (hook === 'objectiveGradients') {
    const a = before as ObjectiveGradients;
    const b = after as ObjectiveGradients;
    for (const objective of Object.keys(a)) {
      if (b[objective] !== undefined) {
        collect(a[objective]!, b[objective]!);
      }
    }
  } else if (hook === 'aggregate') {
    const objectives = Object.values(before as ObjectiveGradients);
    const sum: GradientMap = {};
    for (const map of objectives) {
      for (const [name, tensor] of Object.entries(map)) {
        if (tensor !== null) {
          sum[name] = sum[name] ? tf.add(sum[name]!, tensor) : tensor;
        }
      }
    }
    collect(sum, after as GradientMap);
  } else if (hook === 'gradients' || hook === 'representationGradients') {
    collect(before as GradientMap, after as GradientMap);
  } else {
    return undefined;
  }
  if (pairs.length === 0) {
    return 0;
  }
  return tf.tidy(() => {
    const difference = tf.addN(pairs.map(([a, b]) => tf.sum(tf.square(tf.sub(b, a)))));
    const reference = tf.addN(pairs.map(([a]) => tf.sum(tf.square(a))));
    const [d, r] = [difference.dataSync()[0]!, reference.dataSync()[0]!];
    return r > 0 ? Math.sqrt(d / r) : Math.sqrt(d);
  });
}
