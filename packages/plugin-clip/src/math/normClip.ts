/** Offset torch adds to the norm before dividing (`clip_grad_norm_`); AutoClip and ZClip inherit it. */
export const TORCH_EPSILON = 1e-6;

/**
 * Returns the factor torch.nn.utils.clip_grad_norm_ multiplies the gradients
 * by for a global norm `norm` and a threshold `maxNorm`:
 * min(1, maxNorm / (norm + 1e-6)). Computed in float64.
 */
export function torchClipCoefficient(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + TORCH_EPSILON));
}
