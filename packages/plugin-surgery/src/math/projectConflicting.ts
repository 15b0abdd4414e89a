/** One projection PCGrad made. */
export interface Projection {
  /** Objective whose gradient was projected. */
  objective: number;
  /** Objective whose original gradient it was projected away from. */
  onto: number;
  /** Coefficient removed: <g_i^PC, g_j> / |g_j|^2 (negative on conflict). */
  coefficient: number;
}

/** PCGrad result expressed over the original gradients. */
export interface PcgradWeights {
  /** Row i: coefficients of the projected g_i^PC over the original gradients g_1..g_K. */
  coefficients: number[][];
  /** Weight of each original gradient in the update: column sums of `coefficients`, divided by K for 'mean'. */
  weights: number[];
  projections: Projection[];
}

/**
 * Computes PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning",
 * NeurIPS 2020) from the Gramian G of the objective gradients alone.
 *
 * Each g_i is projected, in the visiting order `order[i]`, away from the
 * *original* g_j whenever the partly projected g_i^PC conflicts with it
 * (strictly negative dot product). Because g_i^PC stays a linear combination
 * of the originals, its dot products follow from G. A projection onto g_j is
 * skipped when |g_j|^2 <= `epsilon`, so no division by a zero or underflowed
 * norm happens. The update is Σ_i g_i^PC ('sum', as in the paper) or that sum
 * divided by K ('mean').
 *
 * @param gramian K×K Gramian; scale it so float64 cannot overflow.
 * @param order order[i] lists every j ≠ i once, in the order task i visits them.
 */
export function projectConflicting(
  gramian: readonly (readonly number[])[],
  order: readonly (readonly number[])[],
  epsilon: number,
  reduction: 'sum' | 'mean',
): PcgradWeights {
  const count = gramian.length;
  const coefficients: number[][] = gramian.map((_, i) => gramian.map((__, j) => (i === j ? 1 : 0)));
  const projections: Projection[] = [];
  for (let i = 0; i < count; i++) {
    const row = coefficients[i]!;
    for (const j of order[i]!) {
      const squaredNorm = gramian[j]![j]!;
      if (!(squaredNorm > epsilon)) {
        continue;
      }
      let dot = 0;
      for (let l = 0; l < count; l++) {
        dot += row[l]! * gramian[l]![j]!;
      }
      if (dot < 0) {
        const coefficient = dot / squaredNorm;
        row[j] = row[j]! - coefficient;
        projections.push({ objective: i, onto: j, coefficient });
      }
    }
  }
  const divisor = reduction === 'mean' ? count : 1;
  const weights = gramian.map((_, j) => coefficients.reduce((total, row) => total + row[j]!, 0) / divisor);
  return { coefficients, weights, projections };
}
