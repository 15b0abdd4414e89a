/** Creates a seeded 32-bit xorshift generator (shift triple 13, 17, 5) that returns floats in [0, 1). */
export function xorshift32(seed: number): () => number {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  // A small seed gives small first outputs, so a few are discarded to mix the state.
  for (let i = 0; i < 16; i++) {
    next();
  }
  return next;
}

/** Returns a copy of `items` in a random order (Fisher-Yates), drawn from `random`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [result[j]!, result[i]!];
  }
  return result;
}
