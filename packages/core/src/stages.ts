/**
 * Named tap stages. tapable runs taps of one hook in ascending `stage` order,
 * so these constants, not registration order, decide where a plugin runs.
 * The gaps of 100 leave room for third-party stages in between
 * (for example `Stage.CLIP + 10`).
 */
export const Stage = {
  /** Non-finite check of each objective's gradients; runs before anything stateful. */
  GUARD: -300,
  /** Collects and averages gradients across micro-batches. */
  ACCUMULATE: -200,
  /** Per-objective changes that need the roles of objectives: ProGrad, Bloop, GAQAT. */
  ALIGN: -100,
  /** Default stage; aggregators tap `aggregate` here. */
  SURGERY: 0,
  /** Clipping of the combined gradient. */
  CLIP: 100,
  /** Gradient noise and other perturbations of the combined gradient. */
  NOISE: 200,
  /** Observers that only read: statistics, telemetry. */
  OBSERVE: 900,
} as const;

export type StageName = keyof typeof Stage;
