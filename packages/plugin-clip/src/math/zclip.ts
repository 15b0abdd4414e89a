import { TORCH_EPSILON, torchClipCoefficient } from './normClip.js';

/** Settings of `zclipStep`, with the ZClip reference's meaning and defaults. */
export interface ZClipSettings {
  /** Weight of the past in the moving mean and variance (reference `alpha`, 0.97). */
  alpha: number;
  /** z-score above which a norm is a spike (reference `z_thresh`, 2.5). */
  zThreshold: number;
  /** Upper bound of the effective threshold, and the warm-up threshold; undefined for none (reference `max_grad_norm`). */
  maxNorm: number | undefined;
  /** Norms collected before the statistics start (reference `warmup_steps`, 25). */
  warmupSteps: number;
  /** Added to the standard deviation in the z-score (reference `eps`, 1e-6). */
  eps: number;
  /** `zscore`: clip spikes by z-score; `percentile`: clip every norm above mean + zThreshold * std. */
  mode: 'zscore' | 'percentile';
  /** In zscore mode: `adaptive-scaling` clips a spike to mean + zThreshold^2 * std / z, `mean` clips it to the mean. */
  clipOption: 'adaptive-scaling' | 'mean';
  /** Multiplier of the adaptive-scaling threshold (reference `clip_factor`, 1). */
  clipFactor: number;
  /** Leave the statistics unchanged on a spike (reference `skip_update_on_spike`, false). */
  skipUpdateOnSpike: boolean;
}

/** Statistics ZClip carries from one optimizer step to the next. */
export interface ZClipStatistics {
  /** Norms collected during warm-up; empty once the statistics started. */
  buffer: number[];
  /** Moving mean of the norm; null during warm-up. */
  mean: number | null;
  /** Moving variance of the norm; null during warm-up. */
  variance: number | null;
}

/** ZClip's decision for one step's global norm. */
export interface ZClipDecision {
  phase: 'warmup' | 'active';
  /** z-score of the norm; undefined during warm-up. */
  z?: number;
  /** Threshold computed for a spike, null when the norm is not a spike (and during warm-up). */
  clipValue: number | null;
  /** Threshold the norm is compared with: min(clipValue or norm, maxNorm); undefined during warm-up. */
  effective?: number;
  /** Factor the gradients are multiplied by; 1 when they stay unchanged. */
  coefficient: number;
  /** Statistics after this step, to keep if the step is applied. */
  next: ZClipStatistics;
}

/**
 * One step of ZClip (Kumar, Owen, Roy Chowdhury and Güra, "ZClip: Adaptive
 * Spike Mitigation for LLM Pre-Training", 2025), as bluorion-com/ZClip's
 * zclip.py computes it, in float64:
 * - warm-up: the norm joins a buffer. When the buffer contains `warmupSteps`
 *   norms, the mean and population variance start from it. Warm-up steps clip
 *   at `maxNorm` the way torch's clip_grad_norm_ does, when it is set.
 * - after warm-up: z = (norm - mean) / (std + eps). A spike (z > zThreshold)
 *   gets a clip value; the gradients are scaled by effective / (norm + 1e-6)
 *   only when the norm exceeds the effective threshold. Then the mean and the
 *   variance move towards the clip value on a spike and towards the norm
 *   otherwise. The variance update uses the new mean.
 * `statistics` is not changed.
 */
export function zclipStep(statistics: ZClipStatistics, norm: number, settings: ZClipSettings): ZClipDecision {
  if (statistics.mean === null || statistics.variance === null) {
    const buffer = [...statistics.buffer, norm];
    const coefficient = settings.maxNorm === undefined ? 1 : torchClipCoefficient(norm, settings.maxNorm);
    if (buffer.length < settings.warmupSteps) {
      return { phase: 'warmup', clipValue: null, coefficient, next: { buffer, mean: null, variance: null } };
    }
    const mean = buffer.reduce((total, value) => total + value, 0) / buffer.length;
    const variance = buffer.reduce((total, value) => total + (value - mean) ** 2, 0) / buffer.length;
    return { phase: 'warmup', clipValue: null, coefficient, next: { buffer: [], mean, variance } };
  }

  const { mean, variance } = statistics;
  const std = Math.sqrt(variance);
  const z = (norm - mean) / (std + settings.eps);
  const clipValue = spikeThreshold(norm, z, mean, std, settings);
  const adaptive = clipValue ?? norm;
  const effective = settings.maxNorm === undefined ? adaptive : Math.min(adaptive, settings.maxNorm);
  const coefficient = norm > effective ? effective / (norm + TORCH_EPSILON) : 1;
  if (clipValue !== null && settings.skipUpdateOnSpike) {
    return { phase: 'active', z, clipValue, effective, coefficient, next: { buffer: [], mean, variance } };
  }
  const fed = clipValue ?? norm;
  const nextMean = settings.alpha * mean + (1 - settings.alpha) * fed;
  const nextVariance = settings.alpha * variance + (1 - settings.alpha) * (fed - nextMean) ** 2;
  return { phase: 'active', z, clipValue, effective, coefficient, next: { buffer: [], mean: nextMean, variance: nextVariance } };
}

function spikeThreshold(norm: number, z: number, mean: number, std: number, settings: ZClipSettings): number | null {
  if (settings.mode === 'percentile') {
    const threshold = mean + settings.zThreshold * std;
    return norm > threshold ? threshold : null;
  }
  if (!(z > settings.zThreshold)) {
    return null;
  }
  if (settings.clipOption === 'mean') {
    return mean;
  }
  // eta = z / zThreshold grows with the outlier, so larger spikes get a lower threshold.
  const eta = z / settings.zThreshold;
  return (mean + (settings.zThreshold * std) / eta) * settings.clipFactor;
}
