/**
 * Returns the `percentile`-th percentile (0 to 100) of the values in
 * `sorted` (ascending) together with `extra`, interpolating linearly between
 * the two nearest ranks as numpy.percentile does by default. `sorted` is not
 * changed. Returns `extra` when `sorted` is empty.
 */
export function percentileWith(sorted: readonly number[], extra: number, percentile: number): number {
  const count = sorted.length + 1;
  const position = ((count - 1) * percentile) / 100;
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, count - 1);
  const insertAt = lowerBound(sorted, extra);
  // The value at `rank` of `sorted` with `extra` inserted at `insertAt`, without building the merged array.
  const at = (rank: number): number => {
    if (rank < insertAt) {
      return sorted[rank]!;
    }
    return rank === insertAt ? extra : sorted[rank - 1]!;
  };
  const low = at(lower);
  const fraction = position - lower;
  return fraction === 0 ? low : low + (at(upper) - low) * fraction;
}

/** Inserts `value` into the ascending array `sorted`, keeping it sorted. */
export function insertSorted(sorted: number[], value: number): void {
  sorted.splice(lowerBound(sorted, value), 0, value);
}

/** Removes one occurrence of `value` from the ascending array `sorted`; does nothing when it is absent. */
export function removeSorted(sorted: number[], value: number): void {
  const index = lowerBound(sorted, value);
  if (index < sorted.length && sorted[index] === value) {
    sorted.splice(index, 1);
  }
}

/** Returns the first index of `sorted` whose value is not below `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low;
}
