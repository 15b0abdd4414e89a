import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';

type Generator = ReturnType<typeof xoroshiro128plus>;

/**
 * Seeded random generator owned by one plugin (xoroshiro128+ from pure-rand).
 * Its state is a short list of integers, saved in checkpoints and restored
 * bit for bit; the session rolls it back when a step is skipped or fails.
 */
export class SeededRandom {
  private generator: Generator;

  constructor(seed: number) {
    this.generator = xoroshiro128plus(seed | 0);
  }

  /** Returns an integer drawn uniformly from [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.generator, min, max);
  }

  /** Returns a float drawn uniformly from [0, 1). */
  float(): number {
    return uniformFloat64(this.generator);
  }

  /** Returns a standard normal sample (Box-Muller on two uniform draws). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Returns a shuffled copy of `items` (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const result = items.slice();
    for (let i = result.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const swap = result[i]!;
      result[i] = result[j]!;
      result[j] = swap;
    }
    return result;
  }

  /** Returns the generator state, a JSON-safe list of integers. */
  getState(): number[] {
    return [...this.generator.getState()];
  }

  /** Replaces the generator state with one from `getState()`. */
  setState(state: readonly number[]): void {
    this.generator = xoroshiro128plusFromState(state);
  }
}
