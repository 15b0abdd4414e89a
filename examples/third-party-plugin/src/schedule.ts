/**
 * Returns the variance of the gradient noise at step `step`:
 * σ² = η / (1 + t)^γ, the annealing schedule of Neelakantan et al.,
 * "Adding Gradient Noise Improves Learning for Very Deep Networks" (2015),
 * who chose η from {0.01, 0.3, 1.0} and fixed γ = 0.55.
 *
 * @example
 * ```ts
 * noiseVariance(0.3, 0.55, 0); // 0.3
 * noiseVariance(0.3, 0.55, 99); // 0.3 / 100^0.55 ≈ 0.02387
 * ```
 */
export function noiseVariance(eta: number, gamma: number, step: number): number {
  return eta / (1 + step) ** gamma;
}
