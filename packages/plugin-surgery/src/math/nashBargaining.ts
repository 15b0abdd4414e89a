import { multiply, normalizeTrace, quadraticForm } from './linearAlgebra.js';
import { solveQuadraticProgram } from './quadraticProgram.js';

type Rows = readonly (readonly number[])[];

/** Bounds on the weights in the trace-normalised problem; the upper one stops the growth along a null direction. */
const LOWER = 1e-8;
const UPPER = 1e6;

/**
 * Nash-MTL weights (Navon et al., "Multi-Task Learning as a Bargaining Game",
 * ICML 2022): the α > 0 with αᵢ (Gα)ᵢ = 1 for every objective, i.e. the
 * minimiser of ½ αᵀGα − Σ log αᵢ. Solved by Newton's method in which each
 * step is a bound-constrained quadratic program (quadprog) followed by a
 * backtracking line search, on the trace-normalised Gramian, then rescaled
 * to the original one. The reference instead runs 20 sequential convex
 * approximations with cvxpy and stops early; this solves to convergence.
 *
 * Zero gradients get weight 0. Where no solution exists (conflicting
 * gradients in a null direction, such as two opposite ones), the weights
 * grow to the upper bound together and their update cancels.
 *
 * @param start warm start in the normalised problem (the previous solution), or ones.
 * @returns weights for the original Gramian, and the normalised solution for warm starts.
 */
export function nashWeights(gramian: Rows, maxIterations: number, start?: readonly number[]): { weights: number[]; normalized: number[] } {
  const count = gramian.length;
  const active = gramian.map((row, i) => row[i]! > 0).map((nonzero, i) => (nonzero ? i : -1)).filter((i) => i >= 0);
  const weights = new Array<number>(count).fill(0);
  const normalizedWeights = new Array<number>(count).fill(0);
  if (active.length === 0) {
    return { weights, normalized: normalizedWeights };
  }
  const sub = active.map((i) => active.map((j) => gramian[i]![j]!));
  const scale = sub.reduce((total, row, i) => total + row[i]!, 0);
  const normalized = normalizeTrace(sub);
  if (normalized === undefined || !Number.isFinite(scale)) {
    return { weights, normalized: normalizedWeights };
  }
  let alpha = active.map((i) => clamp(start?.[i] !== undefined && start[i]! > 0 ? start[i]! : 1));
  const objective = (a: readonly number[]) => 0.5 * quadraticForm(normalized, a) - a.reduce((total, value) => total + Math.log(value), 0);
  const identity = alpha.map((_, i) => alpha.map((__, j) => (i === j ? 1 : 0)));
  const constraints = [...identity, ...identity.map((row) => row.map((value) => -value))];
  const bounds = [...alpha.map(() => LOWER), ...alpha.map(() => -UPPER)];
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const hessian = normalized.map((row, i) => row.map((value, j) => (i === j ? value + 1 / (alpha[i]! * alpha[i]!) : value)));
    const target = solveQuadraticProgram({ quadratic: hessian, linear: alpha.map((value) => 2 / value), constraints, bounds });
    if (target === undefined) {
      break;
    }
    const direction = target.map((value, i) => clamp(value) - alpha[i]!);
    const gradient = multiply(normalized, alpha).map((value, i) => value - 1 / alpha[i]!);
    const slope = gradient.reduce((total, value, i) => total + value * direction[i]!, 0);
    if (!(slope < 0)) {
      break;
    }
    const current = objective(alpha);
    let stepSize = 1;
    let next = alpha;
    while (stepSize > 1e-10) {
      next = alpha.map((value, i) => clamp(value + stepSize * direction[i]!));
      if (objective(next) <= current + 1e-4 * stepSize * slope) {
        break;
      }
      stepSize /= 2;
    }
    const change = Math.max(...next.map((value, i) => Math.abs(value - alpha[i]!) / Math.max(1, Math.abs(alpha[i]!))));
    alpha = next;
    if (change < 1e-12) {
      break;
    }
  }
  active.forEach((i, k) => {
    normalizedWeights[i] = alpha[k]!;
    weights[i] = alpha[k]! / Math.sqrt(scale);
  });
  return { weights, normalized: normalizedWeights };
}

function clamp(value: number): number {
  return Math.min(UPPER, Math.max(LOWER, value));
}
