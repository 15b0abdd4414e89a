import * as tf from '@tensorflow/tfjs-core';

import { flatten, fromSpec, shapeOf } from './values.js';

/** Tolerances of `assertAllClose`: a finite value passes when |actual - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  rtol?: number;
  atol?: number;
  /** Names the compared quantity in the failure message. */
  label?: string;
}

/** Float32 tolerance the specification recommends for the tfjs cpu and wasm backends. */
export const FLOAT32_TOLERANCE = { rtol: 1e-5, atol: 1e-6 } as const;

/**
 * Compares two numbers with these rules: NaN equals only NaN,
 * an infinity equals only the same infinity, and finite values must be within
 * tolerance. NaN and Infinity are never close to a finite number.
 */
export function isClose(actual: number, expected: number, rtol: number, atol: number): boolean {
  if (Number.isNaN(expected) || Number.isNaN(actual)) {
    return Number.isNaN(expected) && Number.isNaN(actual);
  }
  if (!Number.isFinite(expected) || !Number.isFinite(actual)) {
    return actual === expected;
  }
  return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
}

/**
 * Asserts that `actual` (a tensor, a number or nested arrays) matches
 * `expected` (nested arrays, possibly with "NaN"/"Infinity" strings) in
 * shape and value. Throws an Error listing the first mismatches.
 */
export function assertAllClose(actual: tf.Tensor | unknown, expected: unknown, tolerance: Tolerance = {}): void {
  const rtol = tolerance.rtol ?? FLOAT32_TOLERANCE.rtol;
  const atol = tolerance.atol ?? FLOAT32_TOLERANCE.atol;
  const label = tolerance.label ?? 'value';
  const expectedValue = fromSpec(expected);
  const expectedShape = shapeOf(expectedValue);
  let actualValues: number[];
  let actualShape: number[];
  if (actual instanceof tf.Tensor) {
    actualValues = Array.from(actual.dataSync());
    actualShape = [...actual.shape];
  } else {
    const converted = fromSpec(actual);
    actualValues = flatten(converted);
    actualShape = shapeOf(converted);
  }
  const expectedValues = flatten(expectedValue);
  if (actualValues.length !== expectedValues.length || actualShape.join(',') !== expectedShape.join(',')) {
    throw new Error(
      `${label}: shape [${actualShape.join(', ')}] (${actualValues.length} values) differs from expected [${expectedShape.join(', ')}] (${expectedValues.length} values)`,
    );
  }
  const mismatches: string[] = [];
  actualValues.forEach((value, i) => {
    if (!isClose(value, expectedValues[i]!, rtol, atol)) {
      mismatches.push(`[${i}] ${value} vs expected ${expectedValues[i]}`);
    }
  });
  if (mismatches.length > 0) {
    throw new Error(`${label}: ${mismatches.length} of ${actualValues.length} values differ beyond rtol ${rtol}, atol ${atol}: ${mismatches.slice(0, 6).join('; ')}`);
  }
}

/** Asserts that every element of every tensor is finite. */
export function assertFinite(tensors: tf.Tensor | readonly tf.Tensor[], label = 'tensor'): void {
  const list = tensors instanceof tf.Tensor ? [tensors] : tensors;
  list.forEach((tensor, index) => {
    const values = tensor.dataSync();
    const bad = values.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) {
      throw new Error(`${label} ${index}: element ${bad} is ${values[bad]}`);
    }
  });
}
