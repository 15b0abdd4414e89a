export { DEFAULT_SCALE_PATTERNS, gaqat } from './gaqat.js';
export type { GaqatOptions, ResolvedGaqatOptions } from './gaqat.js';
export { QuantizedConv2D } from './layers/QuantizedConv2D.js';
export type { QuantizedConv2DArgs } from './layers/QuantizedConv2D.js';
export { QuantizedDense } from './layers/QuantizedDense.js';
export type { QuantizedDenseArgs } from './layers/QuantizedDense.js';
export { INPUT_SCALE_NAME, KERNEL_SCALE_NAME, QuantizedLayer } from './layers/QuantizedLayer.js';
export type { QuantizedLayerArgs } from './layers/QuantizedLayer.js';
export type { InitializerSpec, InputQuantizerConfig, WeightQuantizerConfig } from './layers/quantizerConfig.js';
export { conflictRate, countSignFlips, decideFreeze, signFlipDisorder } from './math/disorder.js';
export type { DisorderReading, FreezeDecision, FreezeRule, ScaleWindow } from './math/disorder.js';
export { initialStepSize, integerRange, lsqGradientScale, lsqParts, lsqQuantize, MAX_BITS, MIN_BITS, sumToShape } from './math/lsq.js';
export type { IntegerRange, LsqParts, LsqSettings } from './math/lsq.js';
export { sharpnessPerturbation } from './math/perturbation.js';
export type { PerturbationSettings } from './math/perturbation.js';
export { calibrateInputScales, quantizeModel } from './quantizeModel.js';
export type { LayerQuantization, QuantizeModelOptions } from './quantizeModel.js';
export { sam, sharpness } from './sharpness.js';
export type { ResolvedSamOptions, ResolvedSharpnessOptions, SamOptions, SharpnessOptions } from './sharpness.js';
export { evaluateAtPerturbedWeights, surrogateGap } from './sharpnessPass.js';
export { advanceWindow } from './windows.js';
export type { ScaleReading, ScaleWindowState, WindowAdvance } from './windows.js';

import { gaqat } from './gaqat.js';
import { sam, sharpness } from './sharpness.js';

/** Every plugin of this package, for the config loader's registry. */
export const gaqatPlugins = [sam, sharpness, gaqat] as const;
