import { multiply, pseudoInverseOf } from './linearAlgebra.js';

type Rows = readonly (readonly number[])[];

/**
 * IMTL-G weights (Liu et al., "Towards Impartial Multi-task Learning", ICLR
 * 2021) in TorchJD's Gramian form: w ∝ G⁺ √diag(G), normalised to sum to 1,
 * so that Jᵀw has equal projections on every unit gradient. When the sum is
 * below 1e-12 the weights are zero. Zero gradients get weight 0 (their
 * √Gᵢᵢ is 0 and G⁺ ignores their null row).
 */
export function imtlgWeights(gramian: Rows): number[] {
  const largest = Math.max(...gramian.map((row, i) => row[i]!));
  if (!(largest > 0) || !Number.isFinite(largest)) {
    return gramian.map(() => 0);
  }
  // Scale so the largest diagonal entry is 1: the weights do not change, and 1e-12 keeps its meaning.
  const scaled = gramian.map((row) => row.map((value) => value / largest));
  const roots = scaled.map((row, i) => Math.sqrt(Math.max(0, row[i]!)));
  const v = multiply(pseudoInverseOf(scaled), roots);
  const total = v.reduce((sum, value) => sum + value, 0);
  if (!(Math.abs(total) >= 1e-12) || !Number.isFinite(total)) {
    return gramian.map(() => 0);
  }
  return v.map((value) => value / total);
}
