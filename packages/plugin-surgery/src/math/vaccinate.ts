import type { Projection } from './projectConflicting.js';

type Rows = readonly (readonly number[])[];

/** Result of one GradVac step, over the original gradients. */
export interface GradvacResult {
  /** Row i: coefficients of the vaccinated gᵢ over the original gradients. */
  coefficients: number[][];
  /** Weight of each original gradient in the update (column sums of `coefficients`). */
  weights: number[];
  /** targets[i][j] after this step's EMA updates, for every pair the step visited. */
  targets: number[][];
  /** Each adjustment made, with `coefficient` the amount of gⱼ added to gᵢ (positive). */
  projections: Projection[];
}

/**
 * GradVac (Wang et al., "Gradient Vaccine", ICLR 2021) over the whole model,
 * as LibMTL implements it, from the Gramian alone. For each i, and each
 * j ≠ i in the visiting order `order[i]`: with φ = cos(gᵢ^PC, gⱼ) and the
 * target φ̂ᵢⱼ, if φ < φ̂ᵢⱼ then
 *   gᵢ^PC += ‖gᵢ^PC‖ (φ̂√(1−φ²) − φ√(1−φ̂²)) / (‖gⱼ‖ √(1−φ̂²)) · gⱼ,
 * and afterwards φ̂ᵢⱼ ← (1−β)φ̂ᵢⱼ + βφ with the φ measured before the
 * adjustment. The update is Σᵢ gᵢ^PC. With every target at 0 the first step
 * equals PCGrad.
 *
 * A cosine involving a zero gradient is 0. No adjustment is made when ‖gⱼ‖²
 * is at most `epsilon` or φ̂ is ±1 (the formula divides by √(1−φ̂²)).
 * LibMTL adds 1e-8 to its denominators; this does not, which changes the
 * result in the eighth digit.
 *
 * @param targets current φ̂ᵢⱼ, K×K; not modified.
 */
export function vaccinate(gramian: Rows, order: readonly (readonly number[])[], targets: Rows, beta: number, epsilon: number): GradvacResult {
  const count = gramian.length;
  const coefficients: number[][] = gramian.map((_, i) => gramian.map((__, j) => (i === j ? 1 : 0)));
  const next = targets.map((row) => [...row]);
  const projections: Projection[] = [];
  for (let i = 0; i < count; i++) {
    const row = coefficients[i]!;
    for (const j of order[i]!) {
      const squaredNormJ = gramian[j]![j]!;
      let dot = 0;
      let squaredNormI = 0;
      for (let l = 0; l < count; l++) {
        dot += row[l]! * gramian[l]![j]!;
        for (let m = 0; m < count; m++) {
          squaredNormI += row[l]! * row[m]! * gramian[l]![m]!;
        }
      }
      const normI = Math.sqrt(Math.max(0, squaredNormI));
      const normJ = Math.sqrt(Math.max(0, squaredNormJ));
      const cosine = normI > 0 && normJ > 0 ? Math.min(1, Math.max(-1, dot / (normI * normJ))) : 0;
      const target = targets[i]![j]!;
      const sine = Math.sqrt(Math.max(0, 1 - target * target));
      if (cosine < target && squaredNormJ > epsilon && sine > 0) {
        const coefficient = (normI * (target * Math.sqrt(Math.max(0, 1 - cosine * cosine)) - cosine * sine)) / (normJ * sine);
        row[j] = row[j]! + coefficient;
        projections.push({ objective: i, onto: j, coefficient });
      }
      next[i]![j] = (1 - beta) * target + beta * cosine;
    }
  }
  const weights = gramian.map((_, j) => coefficients.reduce((total, row) => total + row[j]!, 0));
  return { coefficients, weights, targets: next, projections };
}
