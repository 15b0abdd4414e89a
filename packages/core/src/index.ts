export { currentStep } from './activeStep.js';
export type { ActiveStep } from './activeStep.js';
export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint.js';
export type { PluginCheckpoint, SessionCheckpoint } from './checkpoint.js';
export { commonOptionsSchema, createPluginSpec, definePlugin, fullOptionsSchema, resolvePluginOptions, schemaOf } from './definePlugin.js';
export type {
  CommonOptions,
  InputOf,
  OptionsOf,
  OptionsSchema,
  PluginContext,
  PluginDefinition,
  PluginFactory,
  PluginInstance,
  PluginSpec,
  PluginState,
  ResolvedOptions,
  TapSpec,
} from './definePlugin.js';
export { describeValue, ErrorCode, GradhooksError } from './errors.js';
export type { ErrorDetails } from './errors.js';
export { checkFanOutLabels, FanOut, fanOut, fanOutWiring } from './fanOut.js';
export type { FanOutConfig, FanOutWiring } from './fanOut.js';
export {
  alignToOrder,
  flattenGradients,
  mapGradients,
  objectivesPerVariable,
  partitionVariables,
  stackObjectives,
  sumObjectiveGradients,
} from './gradients.js';
export type {
  GradientMap,
  NamedTensor,
  ObjectiveGradients,
  ObjectiveResult,
  ObjectiveSource,
  ObjectiveSources,
  RepresentationGradients,
} from './gradients.js';
export { HookBus } from './HookBus.js';
export type { TapDescription, TapOnlyHook, TapOnlyHooks, TapOptions } from './HookBus.js';
export { HookedOptimizer } from './HookedOptimizer.js';
export { hookNames, hookTable } from './hooks.js';
export type { HookName, HookSignatures } from './hooks.js';
export { createConsoleLogger, prefixLogger } from './logger.js';
export type { Logger, LogLevel } from './logger.js';
export { allFinite, countNonFinite, firstNonFiniteVariable, nonFiniteProbe } from './nonFinite.js';
export { checkRoles, hasRoles } from './objectiveRoles.js';
export type { RoleOption } from './objectiveRoles.js';
export { closest, formatIssue, validateAgainstSchema, valueAtPointer } from './options.js';
export type { JsonValue, OptionIssue } from './options.js';
export { loadOptimizerState, saveOptimizerState } from './optimizerState.js';
export type { OptimizerStateSnapshot } from './optimizerState.js';
export { SeededRandom } from './random.js';
export { Stage } from './stages.js';
export type { StageName } from './stages.js';
export { StepContext, StepSkip } from './StepContext.js';
export type { GradientLevel, SkipOptions } from './StepContext.js';
export { Telemetry } from './telemetry.js';
export type {
  ClipEvent,
  ConflictEvent,
  DryRunEvent,
  ErrorEvent,
  EventBase,
  FreezeEvent,
  MetricEvent,
  ProjectionEvent,
  SessionEvent,
  SkipEvent,
  StateEvent,
  StepEvent,
  TelemetryEventMap,
  TelemetryEventName,
} from './telemetry.js';
export { decodeTensor, encodeTensor } from './tensorCodec.js';
export type { EncodedTensor } from './tensorCodec.js';
export { TensorState } from './TensorState.js';
export { trainableVariables, TrainingSession } from './TrainingSession.js';
export type { ObjectiveDeclaration, SessionOptions, StepResult } from './TrainingSession.js';
export { ALL_VARIABLES, createVariableMatcher } from './variables.js';
export { dotParts, magnitudeScale, MINIMUM_SCALE, squaredNormParts, sumScalars } from './vectorParts.js';
