import { xorshift32 } from './random.js';

/** Returns the q-quantile (0 ≤ q ≤ 1) of `values`, interpolating linearly between ranks. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Returns the median of the per-round ratios a[r] / b[r], where `a` and `b` were timed in the same rounds. */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((value, round) => value / b[round]!));
}

/**
 * Estimates a 95% percentile-bootstrap interval for median(a) / median(b),
 * resampling whole rounds so each pair stays together. The generator is
 * seeded, so the same samples always give the same interval.
 */
export function ratioInterval(a: readonly number[], b: readonly number[], resamples = 1000, seed = 12345): [number, number] {
  const rounds = a.length;
  const random = xorshift32(seed);
  const ratios: number[] = [];
  const sampleA = new Array<number>(rounds);
  const sampleB = new Array<number>(rounds);
  for (let i = 0; i < resamples; i++) {
    for (let r = 0; r < rounds; r++) {
      const pick = Math.floor(random() * rounds);
      sampleA[r] = a[pick]!;
      sampleB[r] = b[pick]!;
    }
    ratios.push(median(sampleA) / median(sampleB));
  }
  return [quantile(ratios, 0.025), quantile(ratios, 0.975)];
}
