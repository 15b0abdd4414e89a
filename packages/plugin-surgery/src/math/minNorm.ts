import { multiply, normalizeTrace } from './linearAlgebra.js';
import { solveWithRidge } from './quadraticProgram.js';

type Rows = readonly (readonly number[])[];

/** How MGDA finds the minimum-norm point of the convex hull. */
export type MinNormSolver = 'auto' | 'frank-wolfe' | 'exact';

/**
 * Weights of the minimum-norm point of the convex hull of two gradients, in
 * closed form (Sener & Koltun's `_min_norm_element_from2` without its
 * 0.999/0.001 clamping): γ = clip(⟨g₂−g₁, g₂⟩ / ‖g₁−g₂‖², 0, 1), w = (γ, 1−γ).
 * Equal gradients (‖g₁−g₂‖ = 0) get γ = ½.
 */
export function minNormOfTwo(gramian: Rows): number[] {
  const [g11, g12, g22] = [gramian[0]![0]!, gramian[0]![1]!, gramian[1]![1]!];
  const denominator = g11 + g22 - 2 * g12;
  const gamma = denominator > 0 && Number.isFinite(denominator) ? Math.min(1, Math.max(0, (g22 - g12) / denominator)) : 0.5;
  return [gamma, 1 - gamma];
}

/**
 * Frank-Wolfe on the simplex for min ‖Jᵀw‖², step for step as TorchJD's
 * MGDAWeighting: start at 1/K, move towards the vertex of the smallest (Gw)ₜ
 * (the first one on ties) with an exact line search, stop when the step
 * γ < `epsilon` or after `maxIterations` steps.
 */
export function frankWolfe(gramian: Rows, maxIterations: number, epsilon: number): number[] {
  const count = gramian.length;
  let alpha = new Array<number>(count).fill(1 / count);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const product = multiply(gramian, alpha);
    let t = 0;
    product.forEach((value, i) => {
      if (value < product[t]!) {
        t = i;
      }
    });
    const a = alpha.reduce((total, value, i) => total + value * gramian[i]![t]!, 0);
    const b = alpha.reduce((total, value, i) => total + value * product[i]!, 0);
    const c = gramian[t]![t]!;
    let gamma: number;
    if (c <= a) {
      gamma = 1;
    } else if (b <= a) {
      gamma = 0;
    } else {
      gamma = (b - a) / (b + c - 2 * a);
    }
    alpha = alpha.map((value, i) => (1 - gamma) * value + (i === t ? gamma : 0));
    if (gamma < epsilon) {
      break;
    }
  }
  return alpha;
}

/**
 * Exact minimum-norm weights on the simplex: min ½ wᵀGw subject to Σw = 1,
 * w ≥ 0, solved with quadprog on the trace-normalised Gramian, with the
 * smallest ridge quadprog accepts (`solveWithRidge`) when it is singular.
 */
export function exactMinNorm(gramian: Rows): number[] {
  const count = gramian.length;
  const normalized = normalizeTrace(gramian);
  if (normalized === undefined) {
    return new Array<number>(count).fill(1 / count);
  }
  const identity = normalized.map((_, i) => normalized.map((__, j) => (i === j ? 1 : 0)));
  const solution = solveWithRidge({
    quadratic: normalized,
    linear: new Array<number>(count).fill(0),
    constraints: [new Array<number>(count).fill(1), ...identity],
    bounds: [1, ...new Array<number>(count).fill(0)],
    equalities: 1,
  });
  if (solution === undefined) {
    return frankWolfe(gramian, 1000, 1e-12);
  }
  const clipped = solution.map((value) => Math.max(0, value));
  const total = clipped.reduce((sum, value) => sum + value, 0);
  return clipped.map((value) => value / total);
}

/**
 * MGDA weights (Désidéri 2012; Sener & Koltun, "Multi-Task Learning as
 * Multi-Objective Optimization", NeurIPS 2018): the weights on the simplex of
 * the minimum-norm point of the convex hull of the objective gradients.
 * `'auto'` uses the closed form for two objectives and Frank-Wolfe beyond;
 * `'exact'` the closed form or quadprog; `'frank-wolfe'` always Frank-Wolfe.
 */
export function mgdaWeights(gramian: Rows, solver: MinNormSolver, maxIterations: number, epsilon: number): number[] {
  if (gramian.length === 1) {
    return [1];
  }
  if (solver !== 'frank-wolfe' && gramian.length === 2) {
    return minNormOfTwo(gramian);
  }
  return solver === 'exact' ? exactMinNorm(gramian) : frankWolfe(gramian, maxIterations, epsilon);
}
