import { FLOAT32_EPSILON, multiply, pseudoInverseOf, quadraticForm } from './linearAlgebra.js';

type Rows = readonly (readonly number[])[];

/**
 * Relative cutoff of the cosine matrix's pseudo-inverse. Cosines come from a
 * float32 Gramian divided by norms, which leaves errors of a few float32
 * epsilons: two gradients whose cosine is within that of ±1 count as
 * parallel, so exactly opposite gradients give a zero update.
 */
const COSINE_CUTOFF = 16 * FLOAT32_EPSILON;

/**
 * How ConFIG sets the length of its update (tum-pbs/ConFIG length models):
 * `'projection'` sums the gradients' projections on the direction
 * (ProjectionLength, the default); the others give every unit gradient the
 * same length first, the smallest norm (`'min'`, TrackMinimum), the largest
 * (`'max'`), or the harmonic, arithmetic or geometric mean of the norms.
 */
export type ConflictFreeLength = 'projection' | 'min' | 'max' | 'harmonic' | 'arithmetic' | 'geometric';

/**
 * ConFIG weights (Liu, Chu & Thuerey, "ConFIG: Towards Conflict-free Training
 * of Physics Informed Neural Networks", 2024), from the Gramian alone. With U
 * the unit gradients (zero rows for zero gradients), the direction is
 * u ∝ U⁺ p = Uᵀ C⁺ p, where C = UUᵀ is the cosine matrix, and the update is
 * length·u. In weights over the original gradients: β = D⁻¹ C⁺ p with D the
 * norms, and d = Jᵀβ · ℓ / ‖Jᵀβ‖. A direction shorter than the cosines'
 * rounding (as for exactly opposite gradients) gives zero weights.
 *
 * @param preference p, ones in the reference (its EqualWeight model).
 */
export function conflictFreeWeights(gramian: Rows, preference: readonly number[], length: ConflictFreeLength): number[] {
  const count = gramian.length;
  const norms = gramian.map((row, i) => Math.sqrt(Math.max(0, row[i]!)));
  const cosines = gramian.map((row, i) => row.map((value, j) => (norms[i]! > 0 && norms[j]! > 0 ? value / (norms[i]! * norms[j]!) : 0)));
  const coefficients = multiply(pseudoInverseOf(cosines, COSINE_CUTOFF), preference);
  // ‖Uᵀc‖ in the space of unit gradients; below the cosines' rounding the direction is noise, and the update is zero.
  const unitNorm = Math.sqrt(Math.max(0, quadraticForm(cosines, coefficients)));
  const preferenceNorm = Math.sqrt(preference.reduce((total, value) => total + value * value, 0));
  if (!(unitNorm > COSINE_CUTOFF * preferenceNorm)) {
    return new Array<number>(count).fill(0);
  }
  const beta = coefficients.map((value, i) => (norms[i]! > 0 ? value / norms[i]! : 0));
  const squaredNorm = quadraticForm(gramian, beta);
  if (!(squaredNorm > 0) || !Number.isFinite(squaredNorm)) {
    return new Array<number>(count).fill(0);
  }
  const directionNorm = Math.sqrt(squaredNorm);
  // ⟨gᵢ, u⟩ for the unit direction u = Jᵀβ / ‖Jᵀβ‖.
  const projections = multiply(gramian, beta).map((value) => value / directionNorm);
  let total: number;
  if (length === 'projection') {
    total = projections.reduce((sum, value) => sum + value, 0);
  } else {
    const tracked = trackedNorm(norms, length);
    total = projections.reduce((sum, value, i) => sum + (norms[i]! > 0 ? (value / norms[i]!) * tracked : 0), 0);
  }
  return beta.map((value) => (value * total) / directionNorm);
}

function trackedNorm(norms: readonly number[], length: Exclude<ConflictFreeLength, 'projection'>): number {
  const count = norms.length;
  switch (length) {
    case 'min':
      return Math.min(...norms);
    case 'max':
      return Math.max(...norms);
    case 'harmonic':
      return norms.some((norm) => norm === 0) ? 0 : count / norms.reduce((sum, norm) => sum + 1 / norm, 0);
    case 'arithmetic':
      return norms.reduce((sum, norm) => sum + norm, 0) / count;
    case 'geometric':
      return Math.exp(norms.reduce((sum, norm) => sum + Math.log(norm), 0) / count);
  }
}
