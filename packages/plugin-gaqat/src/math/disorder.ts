/**
 * Gradient-disorder readings of the library's provisional GAQAT rule, as pure
 * functions over numbers. The GAQAT paper (Jiang et al., "Gradient-adaptive
 * quantization-aware training for domain generalization", arXiv 2412.05551,
 * 2024) has no public code and its disorder equation is not verified, so the
 * library offers these two readings in its place.
 */

/** Reading of the disorder of one quantizer scale over a window of K steps. */
export type DisorderReading = 'sign-flips' | 'conflict-rate';

/**
 * Counts the sign flips of a sequence: steps t where
 * sign(g_t)·sign(g_{t-1}) < 0. A zero never counts as a flip, on either side.
 */
export function countSignFlips(values: readonly number[]): number {
  let flips = 0;
  for (let t = 1; t < values.length; t++) {
    if (Math.sign(values[t]!) * Math.sign(values[t - 1]!) < 0) {
      flips += 1;
    }
  }
  return flips;
}

/** Sign-flip disorder: flips / (K - 1) over a window of K task-gradient values; 0 for K < 2. */
export function signFlipDisorder(values: readonly number[]): number {
  return values.length < 2 ? 0 : countSignFlips(values) / (values.length - 1);
}

/**
 * Conflict rate: the share of steps whose task and smoothness gradients have
 * a strictly negative dot product. `dots` contains ⟨g_task, g_smooth⟩ per
 * step. A zero dot product (a zero gradient on either side included) is no conflict.
 */
export function conflictRate(dots: readonly number[]): number {
  if (dots.length === 0) {
    return 0;
  }
  return dots.filter((dot) => dot < 0).length / dots.length;
}

/** Settings of the freeze rule. */
export interface FreezeRule {
  reading: DisorderReading;
  /** τ: a scale is frozen for the next window when its disorder is below this. */
  threshold: number;
  /** Freeze when every value the reading uses is zero (the rule as written would; the default is not to). */
  freezeAllZero: boolean;
}

/** One quantizer scale's window of K steps: task-gradient values and task·smoothness dot products. */
export interface ScaleWindow {
  task: readonly number[];
  dots: readonly number[];
}

/** Decision of the freeze rule for one scale at the end of a window. */
export interface FreezeDecision {
  /** The disorder reading; NaN when the window held a non-finite value. */
  disorder: number;
  /** Whether the chosen component is dropped for the next window. */
  frozen: boolean;
  /** Sign flips of the task values (reported with either reading). */
  flips: number;
  /** Conflict rate of the window (reported with either reading). */
  conflictRate: number;
  /** Why the rule did not apply: a non-finite value skips the window, an all-zero window never freezes by default. */
  exception?: 'non-finite' | 'all-zero';
}

/**
 * Applies the provisional freeze rule to one finished window: the disorder
 * is the sign-flip rate of the task values or the conflict rate, and the
 * scale is frozen for the next window when it is below τ. A window holding
 * NaN or an infinity is skipped (never frozen, disorder NaN). A window whose
 * read values are all zero is not frozen unless `freezeAllZero` is set.
 */
export function decideFreeze(window: ScaleWindow, rule: FreezeRule): FreezeDecision {
  const finite = window.task.every(Number.isFinite) && window.dots.every(Number.isFinite);
  if (!finite) {
    return { disorder: Number.NaN, frozen: false, flips: 0, conflictRate: 0, exception: 'non-finite' };
  }
  const flips = countSignFlips(window.task);
  const rate = conflictRate(window.dots);
  const disorder = rule.reading === 'sign-flips' ? signFlipDisorder(window.task) : rate;
  const read = rule.reading === 'sign-flips' ? window.task : window.dots;
  if (read.every((value) => value === 0) && !rule.freezeAllZero) {
    return { disorder, frozen: false, flips, conflictRate: rate, exception: 'all-zero' };
  }
  return { disorder, frozen: disorder < rule.threshold, flips, conflictRate: rate };
}
