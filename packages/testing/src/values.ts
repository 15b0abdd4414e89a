/** A number as specification files write it: non-finite values are strings. */
export type SpecNumber = number | 'NaN' | 'Infinity' | '-Infinity';

/** Nested arrays of numbers, as JSON writes tensors. */
export type NestedNumbers = number | NestedNumbers[];

/** Converts the strings "NaN", "Infinity" and "-Infinity" in a JSON value back into numbers, recursively. */
export function fromSpec(value: unknown): unknown {
  if (value === 'NaN') {
    return Number.NaN;
  }
  if (value === 'Infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (value === '-Infinity') {
    return Number.NEGATIVE_INFINITY;
  }
  if (Array.isArray(value)) {
    return value.map(fromSpec);
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromSpec(item)]));
  }
  return value;
}

/** Returns the shape of nested arrays (the first element's shape at each level). */
export function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let current = value;
  while (Array.isArray(current)) {
    shape.push(current.length);
    current = current[0];
  }
  return shape;
}

/** Flattens nested arrays of numbers (after `fromSpec`) in row-major order. */
export function flatten(value: unknown): number[] {
  if (Array.isArray(value)) {
    return value.flatMap(flatten);
  }
  return [fromSpec(value) as number];
}
