import { multiply, normalizeTrace, quadraticForm, scaleMatrix } from './linearAlgebra.js';
import { solveWithRidge } from './quadraticProgram.js';

type Rows = readonly (readonly number[])[];

/** Rescaling of CAGrad's update: 0 none, 1 by 1/(1+c²) (the original's default), 2 by 1/(1+c). */
export type CagradRescale = 0 | 1 | 2;

/** Weights CAGrad chose, with the minimiser of its inner problem. */
export interface CagradResult {
  weights: number[];
  /** Minimiser w* of the inner problem on the simplex. */
  inner: number[];
}

const GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * CAGrad weights (Liu et al., "Conflict-Averse Gradient Descent for
 * Multi-task Learning", NeurIPS 2021). With g₀ the mean gradient and
 * √φ = c‖g₀‖, the inner problem is
 *   w* = argmin over the simplex of ⟨g_w, g₀⟩ + √φ ‖g_w‖,  g_w = Jᵀw,
 * and the update is d = g₀ + (√φ / ‖g_w*‖) g_w*, divided per `rescale`.
 *
 * The inner problem is solved through ‖x‖ = min over t > 0 of ‖x‖²/(2t) + t/2:
 * for a fixed t it is a quadratic program on the simplex (quadprog), and the
 * value is convex in t, which a golden-section search minimises over
 * [0, max‖gᵢ‖]. Everything runs on the trace-normalised Gramian, so the
 * weights do not depend on the gradients' scale.
 *
 * When ‖g_w*‖ is at most `normEps` in that normalised space (g₀ is then
 * already conflict-free, as when one gradient is zero), d = g₀: the
 * library's rule where the references disagree (specs case B05).
 */
export function cagradWeights(gramian: Rows, c: number, rescale: CagradRescale, normEps: number, iterations = 60): CagradResult {
  const count = gramian.length;
  const mean = new Array<number>(count).fill(1 / count);
  const normalized = normalizeTrace(gramian);
  let divisor = 1;
  if (rescale === 1) {
    divisor = 1 + c * c;
  } else if (rescale === 2) {
    divisor = 1 + c;
  }
  const fallback = { weights: mean.map((value) => value / divisor), inner: mean };
  if (normalized === undefined || c === 0) {
    return fallback;
  }
  const sqrtPhi = c * Math.sqrt(Math.max(0, quadraticForm(normalized, mean)));
  if (!(sqrtPhi > 0)) {
    return fallback;
  }
  const linear = multiply(normalized, mean).map((value) => -value);
  const simplex = {
    constraints: [new Array<number>(count).fill(1), ...mean.map((_, i) => mean.map((__, j) => (i === j ? 1 : 0)))],
    bounds: [1, ...new Array<number>(count).fill(0)],
    equalities: 1,
  };
  const solveAt = (t: number): number[] => {
    const solution = solveWithRidge({ quadratic: scaleMatrix(normalized, sqrtPhi / t), linear, ...simplex });
    return solution === undefined ? mean : solution.map((value) => Math.max(0, value));
  };
  const objective = (w: readonly number[]): number => -linear.reduce((total, value, i) => total + value * w[i]!, 0) + sqrtPhi * Math.sqrt(Math.max(0, quadraticForm(normalized, w)));
  const valueAt = (t: number): number => {
    const w = solveAt(t);
    return -linear.reduce((total, value, i) => total + value * w[i]!, 0) + sqrtPhi * (quadraticForm(normalized, w) / (2 * t) + t / 2);
  };

  // ‖g_w‖ ≤ max‖gᵢ‖ on the simplex; below 1e-9 of it, ‖g_w*‖ is under any sensible normEps.
  let high = Math.sqrt(Math.max(...normalized.map((row, i) => row[i]!)));
  let low = high * 1e-9;
  let left = high - GOLDEN * (high - low);
  let right = low + GOLDEN * (high - low);
  let leftValue = valueAt(left);
  let rightValue = valueAt(right);
  for (let i = 0; i < iterations && high - low > 1e-12; i++) {
    if (leftValue <= rightValue) {
      high = right;
      right = left;
      rightValue = leftValue;
      left = high - GOLDEN * (high - low);
      leftValue = valueAt(left);
    } else {
      low = left;
      left = right;
      leftValue = rightValue;
      right = low + GOLDEN * (high - low);
      rightValue = valueAt(right);
    }
  }
  // The search brackets t* = ‖g_w*‖; keep the better of the two last candidates on the true objective.
  const candidates = [solveAt(left), solveAt(right)];
  const inner = objective(candidates[0]!) <= objective(candidates[1]!) ? candidates[0]! : candidates[1]!;
  const norm = Math.sqrt(Math.max(0, quadraticForm(normalized, inner)));
  if (!(norm > normEps)) {
    return { weights: fallback.weights, inner };
  }
  const weights = mean.map((value, i) => (value + (sqrtPhi / norm) * inner[i]!) / divisor);
  return { weights, inner };
}
