type Rows = readonly (readonly number[])[];

/**
 * (Multi-)Krum weights (Blanchard et al., "Machine Learning with Adversaries:
 * Byzantine Tolerant Gradient Descent", NeurIPS 2017) from the Gramian, as
 * TorchJD's KrumWeighting: each gradient's score is the sum of its distances
 * to its K − f − 2 nearest other gradients (distances from
 * ‖gᵢ − gⱼ‖² = Gᵢᵢ + Gⱼⱼ − 2Gᵢⱼ); the `selected` lowest scores get weight
 * 1/`selected` each, the lower index first on ties.
 *
 * @param byzantine f, how many gradients may be adversarial; needs K ≥ f + 3.
 */
export function krumWeights(gramian: Rows, byzantine: number, selected: number): number[] {
  const count = gramian.length;
  const closest = count - byzantine - 2;
  const scores = gramian.map((row, i) => {
    const distances = row
      .map((value, j) => Math.sqrt(Math.max(0, gramian[i]![i]! + gramian[j]![j]! - 2 * value)))
      .filter((_, j) => j !== i)
      .sort((a, b) => a - b);
    return distances.slice(0, closest).reduce((total, distance) => total + distance, 0);
  });
  const chosen = scores
    .map((score, i) => ({ score, i }))
    .sort((a, b) => a.score - b.score || a.i - b.i)
    .slice(0, selected)
    .map((entry) => entry.i);
  return gramian.map((_, i) => (chosen.includes(i) ? 1 / selected : 0));
}
