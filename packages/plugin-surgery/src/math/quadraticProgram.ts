/// <reference path="../types/quadprog.d.ts" />
// The reference lets programs that compile this package's sources find quadprog's types.

import { solveQP } from 'quadprog';

/** A strictly convex quadratic program: minimize ½ xᵀ D x − dᵀ x subject to Aᵢ x ≥ bᵢ (the first `equalities` rows with equality). */
export interface QuadraticProgram {
  /** n×n symmetric positive definite matrix. */
  quadratic: readonly (readonly number[])[];
  /** Linear term d (length n); the objective subtracts dᵀx. */
  linear: readonly number[];
  /** Constraint rows Aᵢ (each of length n). */
  constraints: readonly (readonly number[])[];
  /** Right-hand sides bᵢ. */
  bounds: readonly number[];
  /** How many leading constraints are equalities. */
  equalities?: number;
}

/**
 * Solves a strictly convex quadratic program with quadprog (the dual method
 * of Goldfarb and Idnani, as R's quadprog and TorchJD's default solver use).
 * Takes and returns 0-based arrays and never modifies its input.
 *
 * @returns the minimizer, or undefined when quadprog reports a matrix that is
 *   not positive definite, inconsistent constraints or a non-finite solution.
 */
export function solveQuadraticProgram(program: QuadraticProgram): number[] | undefined {
  const n = program.linear.length;
  const q = program.constraints.length;
  const dmat: number[][] = [[]];
  const amat: number[][] = [[]];
  const dvec: number[] = [0];
  for (let i = 0; i < n; i++) {
    dmat.push([0, ...program.quadratic[i]!]);
    amat.push([0, ...program.constraints.map((row) => row[i]!)]);
    dvec.push(program.linear[i]!);
  }
  const bvec = [0, ...program.bounds];
  if (q === 0) {
    // quadprog needs at least one constraint column; 0·x ≥ 0 always holds.
    for (let i = 1; i <= n; i++) {
      amat[i]!.push(0);
    }
    bvec.push(0);
  }
  const result = solveQP(dmat, dvec, amat, bvec, program.equalities ?? 0);
  if (result.message !== '' || result.solution === undefined) {
    return undefined;
  }
  const solution = result.solution.slice(1, n + 1);
  return solution.every(Number.isFinite) ? solution : undefined;
}

/** Ridges, relative to the trace, tried in turn by `solveWithRidge`. */
const RIDGES = [0, 1e-12, 1e-9, 1e-7, 1e-5, 1e-3];

/**
 * Solves `program` after adding the smallest ridge from `RIDGES` (times the
 * trace of its quadratic matrix, or 1 for a zero matrix) that quadprog
 * accepts as positive definite. Gramians are singular whenever gradients are
 * linearly dependent, and float32 rounding can leave them slightly
 * indefinite, which quadprog refuses without a ridge.
 */
export function solveWithRidge(program: QuadraticProgram): number[] | undefined {
  const size = program.quadratic.reduce((total, row, i) => total + row[i]!, 0) || 1;
  for (const ridge of RIDGES) {
    const quadratic = ridge === 0 ? program.quadratic : program.quadratic.map((row, i) => row.map((value, j) => (i === j ? value + ridge * size : value)));
    const solution = solveQuadraticProgram({ ...program, quadratic });
    if (solution !== undefined) {
      return solution;
    }
  }
  return undefined;
}
