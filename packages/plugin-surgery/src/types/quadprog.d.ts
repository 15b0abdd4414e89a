// Types of quadprog 1.6.1, which ships none. Arrays are 1-based, as in its Fortran origin:
// index 0 is unused. Dmat and dvec are overwritten by the solver.
declare module 'quadprog' {
  export interface QuadprogResult {
    solution: number[];
    Lagrangian: number[];
    value: number[];
    unconstrained_solution: number[];
    iterations: number[];
    iact: number[];
    message: string;
  }
  export function solveQP(Dmat: number[][], dvec: number[], Amat: number[][], bvec: number[], meq?: number, factorized?: number[]): QuadprogResult;
}
