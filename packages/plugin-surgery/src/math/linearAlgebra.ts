import { EigenvalueDecomposition, Matrix, pseudoInverse } from 'ml-matrix';

/** Machine epsilon of float32, the precision the Gramian is computed in on the device. */
export const FLOAT32_EPSILON = 2 ** -23;

type Rows = readonly (readonly number[])[];

/**
 * Moore-Penrose pseudo-inverse (ml-matrix, through an SVD). Singular values up
 * to `relativeCutoff` × size × the largest one count as zero; the default is
 * float32's epsilon, the cutoff torch.linalg.pinv uses on float32 input, since
 * the Gramian's entries carry float32 rounding.
 */
export function pseudoInverseOf(matrix: Rows, relativeCutoff = FLOAT32_EPSILON): number[][] {
  if (matrix.every((row) => row.every((value) => value === 0))) {
    return matrix.map((row) => row.map(() => 0));
  }
  return pseudoInverse(new Matrix(matrix.map((row) => [...row])), relativeCutoff).to2DArray();
}

/** Eigenvalues in descending order and the matching unit eigenvectors (columns) of a symmetric matrix. */
export interface SymmetricEigen {
  values: number[];
  /** vectors[i][k] is entry i of eigenvector k. */
  vectors: number[][];
}

/** Eigendecomposition of a symmetric matrix (ml-matrix), sorted by descending eigenvalue. */
export function symmetricEigen(matrix: Rows): SymmetricEigen {
  const decomposition = new EigenvalueDecomposition(new Matrix(matrix.map((row) => [...row])), { assumeSymmetric: true });
  const values = decomposition.realEigenvalues;
  const vectors = decomposition.eigenvectorMatrix.to2DArray();
  const order = values.map((_, k) => k).sort((a, b) => values[b]! - values[a]!);
  return {
    values: order.map((k) => values[k]!),
    vectors: vectors.map((row) => order.map((k) => row[k]!)),
  };
}

/** Matrix-vector product. */
export function multiply(matrix: Rows, vector: readonly number[]): number[] {
  return matrix.map((row) => row.reduce((total, value, j) => total + value * vector[j]!, 0));
}

/** vᵀ M w. */
export function quadraticForm(matrix: Rows, v: readonly number[], w: readonly number[] = v): number {
  return v.reduce((total, value, i) => total + value * matrix[i]!.reduce((inner, entry, j) => inner + entry * w[j]!, 0), 0);
}

/** Sum of the diagonal. */
export function trace(matrix: Rows): number {
  return matrix.reduce((total, row, i) => total + row[i]!, 0);
}

/** Returns a copy of `matrix` with `value` added to its diagonal. */
export function addToDiagonal(matrix: Rows, value: number): number[][] {
  return matrix.map((row, i) => row.map((entry, j) => (i === j ? entry + value : entry)));
}

/** Returns a copy of `matrix` with every entry multiplied by `factor`. */
export function scaleMatrix(matrix: Rows, factor: number): number[][] {
  return matrix.map((row) => row.map((entry) => entry * factor));
}

/** Returns the symmetric part ½(M + Mᵀ), which removes the asymmetry float32 rounding leaves in a Gramian. */
export function symmetrize(matrix: Rows): number[][] {
  return matrix.map((row, i) => row.map((entry, j) => (entry + matrix[j]![i]!) / 2));
}

/** G / tr(G), or undefined when the trace is zero or not finite. Weights of scale-free methods do not change. */
export function normalizeTrace(matrix: Rows): number[][] | undefined {
  const total = trace(matrix);
  return total > 0 && Number.isFinite(total) ? scaleMatrix(matrix, 1 / total) : undefined;
}
