import { ErrorCode, GradhooksError } from '@gradhooks/core';
import type { SeededRandom } from '@gradhooks/core';

/** Returns the explicit order after checking it, or one seeded permutation of the others per objective. */
export function visitingOrder(count: number, explicit: readonly (readonly number[])[] | undefined, random: SeededRandom, plugin: string): number[][] {
  if (explicit !== undefined) {
    checkOrder(explicit, count, plugin);
    return explicit.map((row) => [...row]);
  }
  return Array.from({ length: count }, (_, i) => {
    const others = Array.from({ length: count }, (__, j) => j).filter((j) => j !== i);
    return others.length > 1 ? random.shuffle(others) : others;
  });
}

function checkOrder(order: readonly (readonly number[])[], count: number, plugin: string): void {
  const valid =
    order.length === count &&
    order.every((row, i) => {
      const expected = Array.from({ length: count }, (_, j) => j).filter((j) => j !== i);
      return row.length === expected.length && [...row].sort((a, b) => a - b).every((value, k) => value === expected[k]);
    });
  if (!valid) {
    throw new GradhooksError(
      ErrorCode.ERR_OPTIONS_INVALID,
      `Option 'order' must list, for each of the ${count} objectives, every other objective position exactly once.`,
      {
        plugin,
        path: '/order',
        received: order,
        expected: `${count} rows; row i a permutation of 0..${count - 1} without i`,
        fix: 'Fix order, or remove it to use the seeded shuffle.',
      },
    );
  }
}
