import * as tf from '@tensorflow/tfjs-core';

import type { LayersModel } from '@tensorflow/tfjs-layers';

import { withActiveStep } from './activeStep.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint.js';
import type { PluginCheckpoint, SessionCheckpoint } from './checkpoint.js';
import { createPluginSpec, defaultStage } from './definePlugin.js';
import type { PluginContext, PluginInstance, PluginSpec, TapSpec } from './definePlugin.js';
import { ErrorCode, GradhooksError } from './errors.js';
import { checkFanOutLabels } from './fanOut.js';
import { hasSeveralOutputs, metricsOnFirstRun, outputNamesOf, outputObjectives } from './fitObjectives.js';
import type { GradientMap, NamedTensor, ObjectiveResult, ObjectiveSource, ObjectiveSources } from './gradients.js';
import { HookBus } from './HookBus.js';
import { hookNames } from './hooks.js';
import type { HookName } from './hooks.js';
import { createConsoleLogger, prefixLogger } from './logger.js';
import type { Logger } from './logger.js';
import { closest } from './options.js';
import type { JsonValue } from './options.js';
import { LeakMonitor } from './leakMonitor.js';
import { loadOptimizerState, saveOptimizerState } from './optimizerState.js';
import { SeededRandom } from './random.js';
import { runStep } from './runStep.js';
import type { StepOutcome } from './runStep.js';
import type { GradientLevel } from './StepContext.js';
import { Telemetry } from './telemetry.js';
import { decodeTensor, encodeTensor } from './tensorCodec.js';
import { createVariableMatcher } from './variables.js';

/** An objective the session expects, with the weight that scales its gradient. */
export interface ObjectiveDeclaration {
  /** Factor applied to the objective's loss and gradient before any plugin reads them. Defaults to 1. */
  weight?: number;
}

/** Options of a training session (and of `HookedOptimizer`). */
export interface SessionOptions {
  /** Plugins, from their factories (`pcgrad({...})`) or from a config file. */
  plugins?: readonly PluginSpec[];
  /**
   * Objectives the session expects, by name. Steps whose objectives differ
   * fail with ERR_OBJECTIVE_MISMATCH. When omitted, each step's objectives are used as given.
   */
  objectives?: Readonly<Record<string, ObjectiveDeclaration>> | readonly string[];
  /**
   * `'parameter'` (default): one gradient pass per objective, surgery on
   * variable gradients. `'representation'`: one backward pass; surgery happens
   * inside fan-out layers on the gradients with respect to the shared representation.
   */
  level?: GradientLevel;
  /** Refuse non-finite combined gradients before they reach the optimizer (default true). */
  guard?: boolean;
  /** Base seed of plugins that set no `seed` of their own: plugin i gets `seed + i` (default 0). */
  seed?: number;
  /** Report telemetry every `every` step calls (default 1). */
  telemetry?: { every?: number };
  /** Logger for the session and its plugins (default: console, warnings and errors). */
  logger?: Logger;
  /**
   * Raise ERR_PLUGIN_LEAK when a plugin keeps more tensors alive after each of
   * `steps` consecutive steps (default 5); `false` turns the check off.
   */
  leakCheck?: { steps?: number } | false;
  /** Multi-output model whose outputs become objectives inside `fit` (see `attachModel`). */
  model?: LayersModel;
}

/** Result of `step`. */
export interface StepResult {
  /** True when the optimizer applied an update. */
  applied: boolean;
  /** Reason of the skip, when skipped. */
  skipReason?: string;
  /** Plugin that skipped the step, when one did. */
  skippedBy?: string;
  /** Index of the update this call made or would have made. */
  index: number;
  /** Loss of each objective (weighted), read from the device. */
  losses: Record<string, number>;
}

/** A plugin instance with its spec and random generator, as the session keeps it. */
interface PluginRecord {
  name: string;
  spec: PluginSpec;
  instance: PluginInstance;
  random: SeededRandom;
}

const instanceKeys = new Set(['state', 'dispose', 'api']);

/**
 * One training run: the hook bus, its plugins with their state and random
 * generators, the wrapped optimizer and the telemetry. `HookedOptimizer`
 * drives it from `model.fit`; custom loops call `step`.
 */
export class TrainingSession {
  readonly telemetry = new Telemetry();
  readonly bus = new HookBus();
  readonly level: GradientLevel;
  readonly guard: boolean;
  readonly logger: Logger;

  private readonly optimizer: tf.Optimizer;
  private readonly plugins: PluginRecord[] = [];
  private readonly declared: ReadonlyMap<string, number> | undefined;
  private readonly reportEvery: number;
  private readonly leaks: LeakMonitor | undefined;
  private model: LayersModel | undefined;
  private appliedCount = 0;
  private callCount = 0;
  private announced = false;
  private readonly warnings = new Set<string>();
  private variableOrder: tf.Variable[] = [];
  private running = false;
  private disposed = false;

  constructor(optimizer: tf.Optimizer, options: SessionOptions = {}) {
    this.optimizer = optimizer;
    this.level = options.level ?? 'parameter';
    this.guard = options.guard ?? true;
    this.logger = options.logger ?? createConsoleLogger();
    this.reportEvery = checkEvery(options.telemetry?.every);
    this.declared = declareObjectives(options.objectives, this.level);
    this.model = options.model;
    this.leaks = options.leakCheck === false ? undefined : new LeakMonitor(checkLeakSteps(options.leakCheck?.steps));
    const seed = checkSeed(options.seed);
    this.installPlugins(options.plugins ?? [], seed);
    this.checkModelObjectives();
  }

  /** Optimizer steps applied so far. */
  get stepCount(): number {
    return this.appliedCount;
  }

  /** Step calls so far, skipped ones included. */
  get callCountSoFar(): number {
    return this.callCount;
  }

  /** Objectives the session declares, in order; empty when they come from each step. */
  get objectives(): readonly string[] {
    return this.declared === undefined ? [] : [...this.declared.keys()];
  }

  /** The wrapped tfjs optimizer. */
  get innerOptimizer(): tf.Optimizer {
    return this.optimizer;
  }

  /**
   * Attaches a multi-output model: inside `fit`, each output's loss becomes
   * an objective named after the output. A single-output model yields one
   * objective, `loss`.
   */
  attachModel(model: LayersModel): void {
    this.model = model;
    this.checkModelObjectives();
  }

  /**
   * Returns the object a plugin offers to user code (its instance's `api`),
   * by instance name (`'ema-weights'`, or `'ema-weights#2'` for a second one),
   * or undefined when no such plugin offers one.
   */
  plugin<T = unknown>(name: string): T | undefined {
    return this.plugins.find((plugin) => plugin.name === name)?.instance.api as T | undefined;
  }

  /** Resolved options of every plugin, in order. */
  describe(): Array<{ name: string; options: Record<string, unknown> }> {
    return this.plugins.map((plugin) => ({ name: plugin.name, options: { ...plugin.spec.options } }));
  }

  /**
   * Runs one training step of a custom loop: computes each objective's
   * gradients with `tf.variableGrads`, runs the hooks and applies the update.
   * `variables` defaults to every trainable variable.
   */
  step(
    objectives: Readonly<Record<string, (() => tf.Scalar) | ObjectiveSource>>,
    options: { variables?: readonly tf.Variable[] } = {},
  ): StepResult {
    const variables = this.variablesFor(options.variables);
    const sources: ObjectiveSources = {};
    for (const [name, objective] of Object.entries(objectives)) {
      sources[name] = typeof objective === 'function' ? { loss: objective } : objective;
    }
    let outcome: StepOutcome;
    let losses: Record<string, number>;
    if (this.level === 'representation') {
      const summed = representationSources(sources);
      try {
        outcome = this.run(summed.sources, variables, {});
        losses = readScalars(summed.values);
      } finally {
        tf.dispose(Object.values(summed.values));
      }
    } else {
      outcome = this.run(sources, variables, { readLosses: true });
      losses = outcome.losses ?? {};
    }
    outcome.total?.dispose();
    return {
      applied: outcome.applied,
      ...(outcome.skipReason === undefined ? {} : { skipReason: outcome.skipReason }),
      ...(outcome.skippedBy === undefined ? {} : { skippedBy: outcome.skippedBy }),
      index: outcome.index,
      losses,
    };
  }

  /**
   * Runs a step without objectives, so plugins that hold gradients back (an
   * accumulation window cut short at the end of the data) apply them. The step
   * is skipped when nothing is pending. `variables` defaults to every
   * trainable variable; pass the same list as the training steps.
   */
  flush(options: { variables?: readonly tf.Variable[] } = {}): StepResult {
    const outcome = this.run({}, this.variablesFor(options.variables), { flushing: true });
    outcome.total?.dispose();
    return {
      applied: outcome.applied,
      ...(outcome.skipReason === undefined ? {} : { skipReason: outcome.skipReason }),
      ...(outcome.skippedBy === undefined ? {} : { skippedBy: outcome.skippedBy }),
      index: outcome.index,
      losses: {},
    };
  }

  /**
   * Runs one step for `Optimizer.minimize`: the path of `model.fit`. Returns
   * the total loss when `returnCost` is true, also when the step was skipped.
   */
  minimize(closure: () => tf.Scalar, returnCost: boolean, varList?: readonly tf.Variable[]): tf.Scalar | null {
    const variables = this.variablesFor(varList);
    if (this.model !== undefined) {
      closure = metricsOnFirstRun(this.model, closure);
    }
    let outcome: StepOutcome;
    if (this.level === 'parameter' && this.model !== undefined && hasSeveralOutputs(this.model)) {
      const owned: tf.Tensor[] = [];
      try {
        const perOutput = outputObjectives(this.model, closure, (tensor) => owned.push(tensor));
        outcome = this.run(perOutput.sources, variables, {
          total: perOutput.total,
          extra: perOutput.regularization,
          fallbackTotal: closure,
        });
      } finally {
        tf.dispose(owned);
      }
    } else {
      const name = this.singleObjectiveName();
      outcome = this.run({ [name]: { loss: closure } }, variables, {});
    }
    if (returnCost) {
      return outcome.total ?? null;
    }
    outcome.total?.dispose();
    return null;
  }

  /**
   * Runs the hooks on gradients a caller computed, as one objective, and
   * applies the result. The caller keeps ownership of `gradients`.
   */
  applyGradients(gradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries = Array.isArray(gradients)
      ? gradients.map((entry) => [entry.name, entry.tensor] as const)
      : Object.entries(gradients);
    const variables = entries.map(([name]) => {
      const variable = tf.engine().registeredVariables[name];
      if (variable === undefined) {
        throw new GradhooksError(ErrorCode.ERR_GRADIENT_UNKNOWN_VARIABLE, `applyGradients received a gradient for '${name}', which is not a variable.`, {
          variable: name,
          received: name,
          expected: 'names of registered tf.Variable objects',
          fix: 'Key the gradients by variable name, as tf.variableGrads does.',
        });
      }
      return variable;
    });
    const grads: GradientMap = {};
    for (const [name, tensor] of entries) {
      grads[name] = tensor ?? null;
    }
    const name = this.singleObjectiveName();
    const outcome = this.run({ [name]: { gradients: () => ({ value: tf.scalar(Number.NaN), grads }) } }, variables, {});
    outcome.total?.dispose();
  }

  /**
   * Saves the run's state as JSON: counters, plugin state and generators, the
   * optimizer's state (exact, including what tfjs's own getWeights loses) and,
   * when `variables` is given, their values.
   */
  async saveCheckpoint(options: { optimizer?: boolean; variables?: readonly tf.Variable[] } = {}): Promise<SessionCheckpoint> {
    this.checkUsable();
    const plugins: PluginCheckpoint[] = [];
    for (const plugin of this.plugins) {
      const state = plugin.instance.state === undefined ? null : await plugin.instance.state.save();
      plugins.push({ name: plugin.name, options: { ...plugin.spec.options }, state, random: plugin.random.getState() });
    }
    const variables: Record<string, ReturnType<typeof encodeTensor>> = {};
    for (const variable of options.variables ?? []) {
      variables[variable.name] = encodeTensor(variable);
    }
    return {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      applied: this.appliedCount,
      calls: this.callCount,
      plugins,
      optimizer: options.optimizer === false ? null : await saveOptimizerState(this.optimizer),
      variables: options.variables === undefined ? null : variables,
    };
  }

  /**
   * Restores a checkpoint from `saveCheckpoint` into a session with the same
   * plugins, so the run continues bit for bit as if it had not stopped.
   */
  async loadCheckpoint(checkpoint: SessionCheckpoint, options: { variables?: readonly tf.Variable[] } = {}): Promise<void> {
    this.checkUsable();
    checkCheckpointShape(checkpoint);
    const names = this.plugins.map((plugin) => plugin.name);
    const saved = checkpoint.plugins.map((plugin) => plugin.name);
    if (names.join('\u0000') !== saved.join('\u0000')) {
      throw new GradhooksError(
        ErrorCode.ERR_CHECKPOINT_INVALID,
        `The checkpoint was written by a session with plugins [${saved.join(', ')}], but this session has [${names.join(', ')}].`,
        { received: saved, expected: names.join(', '), fix: 'Create the session with the same plugins, in the same order, as the run that saved it.' },
      );
    }
    for (const [i, plugin] of this.plugins.entries()) {
      const entry = checkpoint.plugins[i]!;
      if (JSON.stringify(entry.options) !== JSON.stringify(plugin.spec.options)) {
        this.logger.warn(`${plugin.name}: options differ from the checkpoint; its saved state is loaded anyway`, {
          saved: entry.options,
          current: plugin.spec.options,
        });
      }
      if (entry.state !== null) {
        if (plugin.instance.state === undefined) {
          throw new GradhooksError(ErrorCode.ERR_CHECKPOINT_INVALID, `Plugin '${plugin.name}' has saved state but no state loader.`, {
            plugin: plugin.name,
            fix: 'Use the plugin version that wrote the checkpoint.',
          });
        }
        try {
          await plugin.instance.state.load(entry.state);
        } catch (error) {
          if (error instanceof GradhooksError) {
            throw error;
          }
          throw new GradhooksError(ErrorCode.ERR_PLUGIN_STATE_INVALID, `Plugin '${plugin.name}' could not load its state: ${String(error)}`, {
            plugin: plugin.name,
            cause: error,
            fix: 'Load a checkpoint written by the same plugin version, unmodified.',
          });
        }
      }
      plugin.random.setState(entry.random);
    }
    if (checkpoint.optimizer !== null) {
      await loadOptimizerState(this.optimizer, checkpoint.optimizer);
    }
    if (checkpoint.variables !== null) {
      restoreVariables(checkpoint.variables, options.variables ?? trainableVariables(), this.logger);
    }
    this.appliedCount = checkpoint.applied;
    this.callCount = checkpoint.calls;
  }

  /** Frees every plugin's tensors. The wrapped optimizer is left to its owner. */
  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    for (const plugin of this.plugins) {
      plugin.instance.dispose?.();
    }
    this.telemetry.removeAllListeners();
  }

  /**
   * Checks, when a model is attached at the parameter level, that the declared
   * objectives a plugin does not derive are the model's output names, so a
   * mismatch fails when the optimizer is built rather than at the first step.
   */
  private checkModelObjectives(): void {
    if (this.model !== undefined && this.level === 'representation') {
      for (const warning of checkFanOutLabels(this.model as unknown as Parameters<typeof checkFanOutLabels>[0])) {
        this.logger.warn(warning);
      }
      return;
    }
    if (this.model === undefined || this.declared === undefined || this.level !== 'parameter') {
      return;
    }
    const outputs = outputNamesOf(this.model);
    if (outputs.length === 0) {
      // A Sequential model has its outputs only once built; the first step checks the names then.
      return;
    }
    const own = this.ownObjectives();
    const matches = outputs.length === 1 ? own.length <= 1 : own.length === outputs.length && own.every((name) => outputs.includes(name));
    if (!matches) {
      throw new GradhooksError(
        ErrorCode.ERR_OBJECTIVE_MISMATCH,
        `The session declares objectives [${own.join(', ')}], but the attached model's outputs are [${outputs.join(', ')}]; inside fit each output is an objective named after it.`,
        {
          path: '/objectives',
          received: own,
          expected: outputs.length === 1 ? 'at most one objective of its own (the model has one output)' : `the output names ${outputs.join(', ')}`,
          fix: outputs.length === 1 ? 'Declare one objective, or none.' : `Name the objectives after the model's outputs: ${outputs.join(', ')}.`,
        },
      );
    }
  }

  /** Declared objectives that no plugin derives: the ones the step's own losses provide. */
  private ownObjectives(): string[] {
    if (this.declared === undefined) {
      return [];
    }
    const derived = new Set(this.plugins.flatMap((plugin) => plugin.spec.definition.derivedObjectives?.(plugin.spec.options) ?? []));
    return [...this.declared.keys()].filter((name) => !derived.has(name));
  }

  /**
   * Names the one objective of `minimize` and `applyGradients`: the declared
   * objective that no plugin derives (a sharpness plugin derives `smoothness`
   * from `task`), or `loss`.
   */
  /**
   * Returns the variables of a step, in an order that never changes under the
   * optimizer. tfjs optimizers key their slot variables by position, so the
   * session keeps one list: the variables of the first step, then every
   * variable seen later appended at its end. Without an explicit list that is
   * every trainable variable. tfjs enumerates those with integer-like names
   * first, so without the kept order a variable created mid-run would shift the others.
   * An explicit list is used as given, and its new variables are appended too.
   */
  private variablesFor(explicit: readonly tf.Variable[] | undefined): readonly tf.Variable[] {
    this.variableOrder = this.variableOrder.filter((variable) => !variable.isDisposed);
    const known = new Set(this.variableOrder);
    for (const variable of explicit ?? trainableVariables()) {
      if (!known.has(variable)) {
        known.add(variable);
        this.variableOrder.push(variable);
      }
    }
    return explicit ?? [...this.variableOrder];
  }

  private singleObjectiveName(): string {
    if (this.level === 'parameter') {
      const own = this.ownObjectives();
      if (own.length === 1) {
        return own[0]!;
      }
    }
    return 'loss';
  }

  private installPlugins(specs: readonly PluginSpec[], seed: number): void {
    const counts = new Map<string, number>();
    const groups = new Map<string, string>();
    specs.forEach((given, index) => {
      const spec = createPluginSpec(given.definition, given.options);
      const definition = spec.definition;
      const count = (counts.get(definition.name) ?? 0) + 1;
      counts.set(definition.name, count);
      const name = count === 1 ? definition.name : `${definition.name}#${count}`;
      // A dry-run plugin applies nothing, so it can sit beside another plugin of its group for comparison.
      if (definition.exclusiveGroup !== undefined && spec.options['dryRun'] !== true) {
        const other = groups.get(definition.exclusiveGroup);
        if (other !== undefined) {
          throw new GradhooksError(
            ErrorCode.ERR_PLUGIN_CONFLICT,
            `Plugins '${other}' and '${name}' cannot be used together: both belong to the group '${definition.exclusiveGroup}'.`,
            { plugin: name, received: [other, name], expected: `at most one plugin of group '${definition.exclusiveGroup}'`, fix: `Remove '${other}' or '${name}'.` },
          );
        }
        groups.set(definition.exclusiveGroup, name);
      }
      if (definition.levels !== undefined && !definition.levels.includes(this.level)) {
        throw new GradhooksError(
          ErrorCode.ERR_PLUGIN_CONFLICT,
          `Plugin '${name}' does not work at the ${this.level} level.`,
          { plugin: name, received: this.level, expected: definition.levels.join(' or '), fix: `Set level to ${definition.levels.map((level) => `'${level}'`).join(' or ')}, or remove '${name}'.` },
        );
      }
      const options = spec.options as Record<string, unknown> & { seed?: number; dryRun: boolean; variables: string[] };
      const random = new SeededRandom(options.seed ?? (seed + index) % 2147483648);
      const hooks = this.bus.tapView(name, { stage: defaultStage(definition), dryRun: options.dryRun });
      const matcher = createVariableMatcher(options.variables);
      const context: PluginContext = {
        name,
        objectives: this.objectives,
        level: this.level,
        random,
        logger: prefixLogger(this.logger, name),
        hooks,
        matchesVariable: matcher,
      };
      let instance: PluginInstance;
      try {
        instance = definition.create(options as never, context);
      } catch (error) {
        if (error instanceof GradhooksError) {
          throw error;
        }
        throw new GradhooksError(ErrorCode.ERR_PLUGIN_FAILED, `Plugin '${name}' failed while it was created: ${error instanceof Error ? error.message : String(error)}`, {
          plugin: name,
          cause: error,
          fix: `Check the options of '${name}'.`,
        });
      }
      this.tapInstance(name, instance, hooks);
      this.plugins.push({ name, spec, instance, random });
    });
    this.checkSingleAggregator();
  }

  private tapInstance(name: string, instance: PluginInstance, hooks: ReturnType<HookBus['tapView']>): void {
    if (instance === null || typeof instance !== 'object') {
      throw new GradhooksError(ErrorCode.ERR_PLUGIN_DEFINITION_INVALID, `Plugin '${name}' returned ${String(instance)} from create() instead of an object of taps.`, {
        plugin: name,
        received: instance,
        expected: 'an object such as { gradients: (grads, step) => grads }',
        fix: 'Return an object whose keys are hook names.',
      });
    }
    for (const [key, value] of Object.entries(instance)) {
      if (instanceKeys.has(key) || value === undefined) {
        continue;
      }
      if (!(hookNames as string[]).includes(key)) {
        const suggestion = closest(key, hookNames);
        throw new GradhooksError(ErrorCode.ERR_HOOK_UNKNOWN, `Plugin '${name}' taps an unknown hook '${key}'.`, {
          plugin: name,
          hook: key,
          received: key,
          expected: `one of ${hookNames.join(', ')}`,
          fix: suggestion === undefined ? `Use one of ${hookNames.join(', ')}.` : `Rename '${key}' to '${suggestion}'.`,
        });
      }
      const spec = value as TapSpec<HookName>;
      if (typeof spec === 'function') {
        hooks[key as HookName].tap(spec as never);
      } else {
        hooks[key as HookName].tap(spec.fn as never, spec.stage === undefined ? {} : { stage: spec.stage });
      }
    }
  }

  private checkSingleAggregator(): void {
    const aggregators = [...new Set(this.bus.describe().filter((tap) => tap.hook === 'aggregate' && !tap.dryRun).map((tap) => tap.plugin))];
    if (aggregators.length > 1) {
      throw new GradhooksError(
        ErrorCode.ERR_PLUGIN_CONFLICT,
        `Only one aggregator can combine the objective gradients, but ${aggregators.map((plugin) => `'${plugin}'`).join(' and ')} all tap 'aggregate'.`,
        { received: aggregators, expected: 'at most one plugin tapping aggregate', fix: 'Keep one aggregator; set dryRun: true on the others to compare them.' },
      );
    }
  }

  private run(
    sources: ObjectiveSources,
    variables: readonly tf.Variable[],
    options: {
      total?: () => tf.Scalar;
      extra?: (variables: readonly tf.Variable[]) => ObjectiveResult;
      fallbackTotal?: () => tf.Scalar;
      readLosses?: boolean;
      flushing?: boolean;
    },
  ): StepOutcome {
    this.checkUsable();
    if (this.running) {
      throw new GradhooksError(ErrorCode.ERR_STEP_REENTERED, 'A training step was started while another step of the same session was running.', {
        fix: 'Do not call step(), minimize() or applyGradients() from inside a tap.',
      });
    }
    this.announce();
    this.running = true;
    this.callCount += 1;
    const randomStates = this.plugins.map((plugin) => plugin.random.getState());
    let applied = false;
    try {
      const outcome = runStep({
        sources,
        variables,
        optimizer: this.optimizer,
        bus: this.bus,
        telemetry: this.telemetry,
        logger: this.logger,
        level: this.level,
        guard: this.guard,
        weights: this.declared,
        index: this.appliedCount,
        call: this.callCount,
        report: this.telemetry.hasListeners() && (this.callCount - 1) % this.reportEvery === 0,
        readLosses: options.readLosses ?? false,
        flushing: options.flushing ?? false,
        total: options.total,
        extra: options.extra,
        fallbackTotal: options.fallbackTotal,
        checkObjectives: (names) => this.checkObjectives(names),
        withActive: (step, fn) => {
          const warnOnce = (key: string, message: string) => {
            if (!this.warnings.has(key)) {
              this.warnings.add(key);
              this.logger.warn(message);
            }
          };
          const active = () => withActiveStep({ step, bus: this.bus, warnOnce }, fn);
          return this.leaks === undefined ? active() : this.leaks.watch(step, active);
        },
        onApplied: () => {
          applied = true;
          this.appliedCount += 1;
        },
      });
      if (!outcome.applied) {
        this.restoreRandom(randomStates);
      }
      try {
        this.leaks?.endStep();
      } catch (error) {
        outcome.total?.dispose();
        throw error;
      }
      return outcome;
    } catch (error) {
      if (!applied) {
        this.restoreRandom(randomStates);
      }
      throw error;
    } finally {
      this.running = false;
    }
  }

  private restoreRandom(states: number[][]): void {
    this.plugins.forEach((plugin, i) => plugin.random.setState(states[i]!));
  }

  private checkObjectives(names: readonly string[]): void {
    if (names.length === 0) {
      throw new GradhooksError(ErrorCode.ERR_OBJECTIVE_INVALID, 'The step has no objective.', {
        received: [],
        expected: 'at least one objective',
        fix: 'Pass at least one loss closure to step().',
      });
    }
    if (this.declared === undefined || this.level === 'representation') {
      return;
    }
    const expected = [...this.declared.keys()];
    const same = expected.length === names.length && expected.every((name) => names.includes(name));
    if (!same) {
      const modelHint =
        this.model === undefined && names.length === 1
          ? ' For per-output objectives inside fit, pass the model: new HookedOptimizer(inner, { model }) or optimizer.attachModel(model).'
          : '';
      throw new GradhooksError(
        ErrorCode.ERR_OBJECTIVE_MISMATCH,
        `The session declares objectives [${expected.join(', ')}] but the step computed [${names.join(', ')}].${modelHint}`,
        { received: [...names], expected: expected.join(', '), fix: 'Make the declared objectives match the losses of the step (for fit: the model output names).' },
      );
    }
  }

  private announce(): void {
    if (this.announced) {
      return;
    }
    this.announced = true;
    const plugins = this.describe();
    for (const plugin of plugins) {
      this.logger.info(`plugin ${plugin.name}`, plugin.options);
    }
    this.telemetry.publish('session', { plugins, objectives: [...this.objectives], level: this.level });
  }

  private checkUsable(): void {
    if (this.disposed) {
      throw new GradhooksError(ErrorCode.ERR_SESSION_DISPOSED, 'This session was disposed.', {
        fix: 'Create a new HookedOptimizer or TrainingSession.',
      });
    }
  }
}

/** Returns every trainable variable, in tfjs's enumeration order, as `tf.variableGrads` uses by default. */
export function trainableVariables(): tf.Variable[] {
  return Object.values(tf.engine().registeredVariables).filter((variable) => variable.trainable);
}

/**
 * At representation level a custom-loop step takes one backward pass: the
 * objectives are summed into one loss, and the fan-out layers split the
 * gradient per objective. Each objective's value is kept for reporting.
 */
function representationSources(sources: ObjectiveSources): { sources: ObjectiveSources; values: Record<string, tf.Scalar> } {
  const values: Record<string, tf.Scalar> = {};
  const total = () => {
    const parts = Object.entries(sources).map(([name, source]) => {
      if (!('loss' in source)) {
        throw new GradhooksError(ErrorCode.ERR_OBJECTIVE_INVALID, `Objective '${name}' gives gradients, which the representation level cannot sum into one backward pass.`, {
          received: name,
          expected: 'loss closures',
          fix: "Pass loss closures, or use level: 'parameter'.",
        });
      }
      const value = source.loss();
      values[name] = tf.keep(tf.clone(value));
      return value;
    });
    return (parts.length === 1 ? parts[0]! : tf.addN(parts)) as tf.Scalar;
  };
  return { sources: { loss: { loss: total } }, values };
}

function readScalars(values: Record<string, tf.Scalar>): Record<string, number> {
  const names = Object.keys(values);
  if (names.length === 0) {
    return {};
  }
  const numbers = tf.tidy(() => tf.stack(names.map((name) => values[name]!)).dataSync());
  return Object.fromEntries(names.map((name, i) => [name, numbers[i]!]));
}

function declareObjectives(
  objectives: SessionOptions['objectives'],
  level: GradientLevel,
): ReadonlyMap<string, number> | undefined {
  if (objectives === undefined) {
    return undefined;
  }
  const entries: Array<[string, number]> = Array.isArray(objectives)
    ? (objectives as readonly string[]).map((name) => [name, 1])
    : Object.entries(objectives as Record<string, ObjectiveDeclaration>).map(([name, declaration]) => [name, declaration.weight ?? 1]);
  for (const [name, weight] of entries) {
    if (!Number.isFinite(weight)) {
      throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Objective '${name}' has a non-finite weight.`, {
        path: `/objectives/${name}/weight`,
        received: weight,
        expected: 'a finite number',
        fix: 'Set a finite weight, or leave it out for 1.',
      });
    }
    if (level === 'representation' && weight !== 1) {
      throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Objective '${name}' has weight ${weight}, but weights apply only at the parameter level.`, {
        path: `/objectives/${name}/weight`,
        received: weight,
        expected: '1 at the representation level',
        fix: "Scale the loss inside the model, or use level: 'parameter'.",
      });
    }
  }
  return new Map(entries);
}

function checkEvery(every: number | undefined): number {
  if (every === undefined) {
    return 1;
  }
  if (!Number.isInteger(every) || every < 1) {
    throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `telemetry.every must be a positive integer, received ${every}.`, {
      path: '/telemetry/every',
      received: every,
      expected: 'an integer >= 1',
      fix: 'Set telemetry.every to 1 to report every step, or more to report less often.',
    });
  }
  return every;
}

function checkLeakSteps(steps: number | undefined): number {
  if (steps === undefined) {
    return 5;
  }
  if (!Number.isInteger(steps) || steps < 2) {
    throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `leakCheck.steps must be an integer of at least 2, received ${steps}.`, {
      path: '/leakCheck/steps',
      received: steps,
      expected: 'an integer >= 2',
      fix: 'Set leakCheck.steps to 2 or more, or leakCheck: false to turn the check off.',
    });
  }
  return steps;
}

function checkSeed(seed: number | undefined): number {
  if (seed === undefined) {
    return 0;
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 2147483647) {
    throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `seed must be an integer from 0 to 2147483647, received ${seed}.`, {
      path: '/seed',
      received: seed,
      expected: 'an integer from 0 to 2147483647',
      fix: 'Use a non-negative 31-bit integer seed.',
    });
  }
  return seed;
}

function checkCheckpointShape(checkpoint: SessionCheckpoint): void {
  const valid =
    checkpoint !== null &&
    typeof checkpoint === 'object' &&
    checkpoint.format === CHECKPOINT_FORMAT &&
    Array.isArray(checkpoint.plugins) &&
    Number.isInteger(checkpoint.applied) &&
    Number.isInteger(checkpoint.calls);
  if (!valid) {
    throw new GradhooksError(ErrorCode.ERR_CHECKPOINT_INVALID, 'This is not a gradhooks session checkpoint.', {
      received: typeof checkpoint === 'object' && checkpoint !== null ? Object.keys(checkpoint) : checkpoint,
      expected: `an object with format '${CHECKPOINT_FORMAT}'`,
      fix: 'Pass the object that saveCheckpoint() returned (or its JSON.parse).',
    });
  }
  if (checkpoint.version !== CHECKPOINT_VERSION) {
    throw new GradhooksError(ErrorCode.ERR_CHECKPOINT_INVALID, `Checkpoint version ${checkpoint.version} is not supported.`, {
      received: checkpoint.version,
      expected: String(CHECKPOINT_VERSION),
      fix: 'Load it with the gradhooks version that wrote it.',
    });
  }
}

/**
 * Writes saved variable values into `variables`, matched by name. When no
 * saved name matches but the lists have the same length and shapes in order,
 * it matches by position: tfjs renames the variables of a model rebuilt in
 * the same process (`dense/kernel` becomes `dense/kernel_1`).
 */
function restoreVariables(saved: Record<string, Parameters<typeof decodeTensor>[0]>, variables: readonly tf.Variable[], logger: Logger): void {
  const byName = new Map(variables.map((variable) => [variable.name, variable]));
  const entries = Object.entries(saved);
  const matched = entries.filter(([name]) => byName.has(name)).length;
  const byPosition =
    matched === 0 &&
    entries.length === variables.length &&
    entries.every(([, encoded], i) => encoded.shape.join(',') === variables[i]!.shape.join(','));
  if (byPosition) {
    logger.info('checkpoint variables matched by position: none of their names exists now (a rebuilt model gets new names)');
  }
  entries.forEach(([name, encoded], i) => {
    const variable = byPosition ? variables[i] : byName.get(name);
    if (variable === undefined) {
      throw new GradhooksError(ErrorCode.ERR_CHECKPOINT_INVALID, `The checkpoint contains variable '${name}', which is not among the variables to restore.`, {
        variable: name,
        received: name,
        expected: 'a name of one of the variables passed to loadCheckpoint',
        fix: 'Pass the same variables, in the same order, as to saveCheckpoint; a model rebuilt in the same process gets new variable names, which match by position only when none of the old names exists.',
      });
    }
    const value = decodeTensor(encoded);
    try {
      variable.assign(value);
    } finally {
      value.dispose();
    }
  });
}

export type { JsonValue };
