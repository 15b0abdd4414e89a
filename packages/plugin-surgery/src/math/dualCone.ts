import { addToDiagonal, scaleMatrix, trace } from './linearAlgebra.js';
import { solveWithRidge } from './quadraticProgram.js';

type Rows = readonly (readonly number[])[];

/** Regularisation of the Gramian before the projections, as TorchJD applies it. */
export interface DualConeOptions {
  /** Trace below which the Gramian counts as zero (TorchJD `norm_eps`). */
  normEps: number;
  /** Ridge added to the trace-normalised Gramian (TorchJD `reg_eps`). */
  regEps: number;
}

/**
 * G / tr(G), or the zero matrix when tr(G) is below `normEps` (TorchJD's
 * `normalize`). The trace is that of the Gramian in its original scale.
 */
export function normalizeByTrace(gramian: Rows, normEps: number): number[][] {
  const total = trace(gramian);
  if (!(total > 0) || total < normEps || !Number.isFinite(total)) {
    return gramian.map((row) => row.map(() => 0));
  }
  return scaleMatrix(gramian, 1 / total);
}

/**
 * Projects the weight vector `u` onto the dual cone of the rows of J, in
 * weight space: the minimizer of ½ vᵀ G v subject to v ≥ u, solved with
 * quadprog (with the smallest ridge it accepts, see `solveWithRidge`).
 */
export function projectOntoDualCone(gramian: Rows, u: readonly number[]): number[] {
  const identity = u.map((_, i) => u.map((__, j) => (i === j ? 1 : 0)));
  const solution = solveWithRidge({ quadratic: gramian, linear: u.map(() => 0), constraints: identity, bounds: [...u] });
  // u itself is feasible; it is returned only if every ridge fails, which a finite Gramian rules out.
  return solution === undefined ? [...u] : solution.map((value, i) => Math.max(value, u[i]!));
}

/**
 * UPGrad weights (Quinton & Rey, "Jacobian Descent for Multi-Objective
 * Optimization", 2024): each row's preference weight pᵢeᵢ is projected onto
 * the dual cone and the projections are summed. The combined update
 * Jᵀw then has a non-negative dot product with every objective gradient.
 *
 * @param gramian K×K Gramian in its original scale.
 * @param preference pᵢ, 1/K each in TorchJD.
 */
export function upgradWeights(gramian: Rows, preference: readonly number[], options: DualConeOptions): number[] {
  const regularized = addToDiagonal(normalizeByTrace(gramian, options.normEps), options.regEps);
  const weights = preference.map(() => 0);
  preference.forEach((p, i) => {
    const u = preference.map((_, j) => (j === i ? p : 0));
    projectOntoDualCone(regularized, u).forEach((value, j) => {
      weights[j] = weights[j]! + value;
    });
  });
  return weights;
}

/**
 * DualProj weights (TorchJD): the preference vector itself (the mean by
 * default) projected onto the dual cone.
 */
export function dualProjWeights(gramian: Rows, preference: readonly number[], options: DualConeOptions): number[] {
  const regularized = addToDiagonal(normalizeByTrace(gramian, options.normEps), options.regEps);
  return projectOntoDualCone(regularized, preference);
}
