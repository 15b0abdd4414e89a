import * as tf from '@tensorflow/tfjs-core';

import type { PluginSpec } from '@gradhooks/core';

import { aggregateJacobians } from './aggregation.js';
import type { AggregateOptions } from './aggregation.js';
import { assertAllClose } from './asserts.js';
import { EXTREME_SCALES } from './samplers.js';
import type { Matrix } from './samplers.js';

/** A function from a Jacobian (rows are objective gradients) to the combined gradient. */
export type Aggregate = (jacobian: Matrix) => number[];

/**
 * Wraps a plugin factory as an `Aggregate`: each call creates a fresh plugin
 * and session, so stateful plugins start from their initial state and seeded
 * ones from their seed.
 */
export function aggregatorOf(create: () => PluginSpec, options: AggregateOptions = {}): Aggregate {
  return (jacobian) => aggregateJacobians(create(), [jacobian], options)[0]!.output;
}

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((total, value, i) => total + value * b[i]!, 0);
const norm = (a: readonly number[]) => Math.sqrt(dot(a, a));

/**
 * Asserts that `output` conflicts with no row of `jacobian`: for every
 * gradient gᵢ, the component of the update along −gᵢ is at most `tolerance`
 * times the longest gradient's norm, ⟨gᵢ/‖gᵢ‖, d⟩ ≥ −tolerance·maxⱼ‖gⱼ‖.
 * Measuring against the longest gradient rather than ‖d‖ keeps the check
 * meaningful when d itself is zero up to rounding. UPGrad, DualProj, MGDA
 * and ConFIG guarantee it; PCGrad only for two objectives.
 *
 * @param tolerance default 1e-4; Gramian-based methods in float32 need about 1e-3 on nearly singular Gramians.
 */
export function assertNonConflicting(jacobian: Matrix, output: readonly number[], tolerance = 1e-4): void {
  const longest = Math.max(0, ...jacobian.map(norm));
  jacobian.forEach((row, i) => {
    const rowNorm = norm(row);
    if (rowNorm === 0) {
      return;
    }
    const component = dot(row, output) / rowNorm;
    if (!(component >= -tolerance * longest)) {
      throw new Error(
        `the update conflicts with objective ${i}: its component along g${i} is ${component}, below −${tolerance} × the longest gradient norm ${longest}`,
      );
    }
  });
}

/** Relative tolerance of the comparisons in the asserts below, scaled by the largest magnitude involved. */
export interface PropertyTolerance {
  rtol?: number;
  /** Absolute tolerance as a fraction of the largest magnitude of the inputs and outputs. */
  relativeAtol?: number;
}

function compare(actual: readonly number[], expected: readonly number[], magnitude: number, tolerance: PropertyTolerance, label: string): void {
  assertAllClose([...actual], [...expected], { rtol: tolerance.rtol ?? 1e-4, atol: (tolerance.relativeAtol ?? 1e-5) * magnitude + Number.MIN_VALUE, label });
}

function largest(...arrays: ReadonlyArray<readonly number[]>): number {
  return Math.max(0, ...arrays.flat().map(Math.abs));
}

/**
 * Asserts that permuting the rows of `jacobian` leaves the update unchanged,
 * as every deterministic aggregator whose paper treats objectives alike
 * claims. Each cyclic shift and the reversal of the rows are checked.
 */
export function assertPermutationInvariant(aggregate: Aggregate, jacobian: Matrix, tolerance: PropertyTolerance = {}): void {
  const base = aggregate(jacobian);
  const count = jacobian.length;
  const permutations = [
    ...Array.from({ length: count - 1 }, (_, shift) => jacobian.map((_, i) => (i + shift + 1) % count)),
    jacobian.map((_, i) => count - 1 - i),
  ];
  for (const permutation of permutations) {
    const permuted = aggregate(permutation.map((i) => jacobian[i]!));
    compare(permuted, base, largest(base, ...jacobian), tolerance, `rows permuted as [${permutation.join(', ')}]`);
  }
}

/**
 * Asserts that scaling every gradient by c scales the update by c^`degree`:
 * degree 1 for linear methods (the mean, UPGrad, MGDA, PCGrad...), 0 for
 * scale-free ones (Nash-MTL without a norm cap). Each scale is checked
 * separately, and every output must be finite.
 */
export function assertHomogeneous(aggregate: Aggregate, jacobian: Matrix, scales: readonly number[], degree = 1, tolerance: PropertyTolerance = {}): void {
  const base = aggregate(jacobian);
  for (const scale of scales) {
    const scaled = jacobian.map((row) => row.map((value) => Math.fround(value * scale)));
    const output = aggregate(scaled);
    assertFiniteValues(output, `output at scale ${scale}`);
    const factor = scale ** degree;
    const expected = base.map((value) => value * factor);
    compare(output, expected, largest(expected, ...scaled), tolerance, `scale ${scale}`);
  }
}

/**
 * Asserts finite output when the rows of `jacobian` are rescaled, each on
 * its own, to magnitudes from 0 to near float32's largest (`EXTREME_SCALES`),
 * mixed in every combination of two magnitudes for the first two rows.
 */
export function assertFiniteOnExtremes(aggregate: Aggregate, jacobian: Matrix, scales: readonly number[] = EXTREME_SCALES): void {
  const unit = jacobian.map((row) => {
    const size = largest(row);
    return row.map((value) => (size > 0 ? value / size : 0));
  });
  for (const first of scales) {
    for (const second of scales) {
      const rows = unit.map((row, i) => row.map((value) => Math.fround(value * (i === 0 ? first : i === 1 ? second : 1))));
      assertFiniteValues(aggregate(rows), `output with row magnitudes ${first} and ${second}`);
    }
  }
}

function assertFiniteValues(values: readonly number[], label: string): void {
  const bad = values.findIndex((value) => !Number.isFinite(value));
  if (bad >= 0) {
    throw new Error(`${label}: element ${bad} is ${values[bad]}`);
  }
}

/**
 * Asserts that a plugin leaves no tensor behind: the tensor count is the
 * same before and after `steps` steps on `jacobian` (the session and its
 * variable are disposed at the end of the run).
 */
export function assertNoAggregatorLeak(plugin: PluginSpec, jacobian: Matrix, steps = 3, options: AggregateOptions = {}): void {
  const before = tf.memory().numTensors;
  aggregateJacobians(plugin, new Array<Matrix>(steps).fill(jacobian), options);
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`the aggregator left ${after - before} tensor(s) allocated after ${steps} steps (${before} before, ${after} after)`);
  }
}
