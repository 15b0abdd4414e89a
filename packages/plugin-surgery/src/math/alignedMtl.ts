import { FLOAT32_EPSILON, symmetricEigen, symmetrize } from './linearAlgebra.js';

type Rows = readonly (readonly number[])[];

/** Eigenvalue that sets the scale of Aligned-MTL's balanced update. */
export type AlignedScaleMode = 'min' | 'median' | 'rmse';

/**
 * Aligned-MTL weights (Senushkin et al., "Independent Component Alignment for
 * Multi-Task Learning", CVPR 2023) in TorchJD's form: with G = VΛVᵀ and the
 * eigenvalues above λ_max·K·ε_f32 kept, B = √σ V Λ^{-1/2} Vᵀ and w = B p.
 * σ is the smallest kept eigenvalue (`'min'`), the lower middle one
 * (`'median'`, as torch.median) or their mean (`'rmse'`). A zero Gramian
 * gives w = p.
 *
 * @param preference p; 1/K each in TorchJD, ones in LibMTL (K times larger).
 */
export function alignedMtlWeights(gramian: Rows, preference: readonly number[], scaleMode: AlignedScaleMode): number[] {
  const count = gramian.length;
  const { values, vectors } = symmetricEigen(symmetrize(gramian));
  const largest = values[0]!;
  const tolerance = largest * count * FLOAT32_EPSILON;
  const kept = values.map((value, k) => k).filter((k) => values[k]! > tolerance && values[k]! > 0);
  if (kept.length === 0 || !Number.isFinite(largest)) {
    return [...preference];
  }
  const lambdas = kept.map((k) => values[k]!);
  let sigma: number;
  if (scaleMode === 'min') {
    sigma = lambdas[lambdas.length - 1]!;
  } else if (scaleMode === 'median') {
    const ascending = [...lambdas].sort((a, b) => a - b);
    sigma = ascending[Math.floor((ascending.length - 1) / 2)]!;
  } else {
    sigma = lambdas.reduce((sum, value) => sum + value, 0) / lambdas.length;
  }
  // w = √σ Σ_k v_k (v_kᵀ p) / √λ_k over the kept eigenpairs.
  const weights = new Array<number>(count).fill(0);
  kept.forEach((k, index) => {
    const projection = vectors.reduce((total, row, i) => total + row[k]! * preference[i]!, 0);
    const factor = (Math.sqrt(sigma) * projection) / Math.sqrt(lambdas[index]!);
    vectors.forEach((row, i) => {
      weights[i] = weights[i]! + factor * row[k]!;
    });
  });
  return weights;
}
