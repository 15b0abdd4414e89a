export { GRADIENT_NOISE, gradientNoise } from './gradientNoise.js';
export type { GradientNoiseOptions, GradientNoiseState, ResolvedGradientNoiseOptions } from './gradientNoise.js';
export { noiseVariance } from './schedule.js';

export { gradientNoise as default } from './gradientNoise.js';
