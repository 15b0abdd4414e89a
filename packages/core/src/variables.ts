import picomatch from 'picomatch';

/** Default `variables` option: every variable. */
export const ALL_VARIABLES: readonly string[] = ['**'];

/**
 * Builds a predicate that tests a variable name against glob patterns
 * (picomatch syntax, `/` separates name segments, `**` crosses them).
 * A pattern starting with `!` excludes what it matches.
 */
export function createVariableMatcher(patterns: readonly string[] = ALL_VARIABLES): (name: string) => boolean {
  const include = patterns.filter((pattern) => !pattern.startsWith('!'));
  const exclude = patterns.filter((pattern) => pattern.startsWith('!')).map((pattern) => pattern.slice(1));
  const included = include.length === 0 ? () => true : picomatch(include, { dot: true });
  const excluded = exclude.length === 0 ? () => false : picomatch(exclude, { dot: true });
  return (name: string) => included(name) && !excluded(name);
}
