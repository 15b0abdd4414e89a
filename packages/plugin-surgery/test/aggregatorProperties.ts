import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { GradientLevel, PluginSpec } from '@gradhooks/core';
import {
  aggregateJacobian,
  aggregatorOf,
  assertAllClose,
  assertFiniteOnExtremes,
  assertHomogeneous,
  assertNoAggregatorLeak,
  assertNonConflicting,
  assertPermutationInvariant,
  matrixArbitrary,
  sampleMatrix,
} from '@gradhooks/testing';
import type { Matrix, PropertyTolerance } from '@gradhooks/testing';

import { regressionCase } from '../../../test/helpers/specs.js';

/** Which of the kit's properties an aggregator's paper claims, and how to build it. */
export interface PropertyPlan {
  create: () => PluginSpec;
  /** The update conflicts with no objective gradient. */
  nonConflicting?: boolean;
  /** Permuting the objectives leaves the update unchanged. */
  permutationInvariant?: boolean;
  /** Scaling the gradients by c scales the update by c^degree; omitted when no such law holds. */
  degree?: number;
  /** Scales for the homogeneity check. */
  scales?: readonly number[];
  /** Objective counts to sample; 2 to 5 when omitted. */
  rows?: { min: number; max: number };
  /** Gradient sizes to sample; 1 to 7 when omitted. */
  columns?: { min: number; max: number };
  tolerance?: PropertyTolerance;
  /** Tolerance of the non-conflict check, relative to the longest gradient. */
  conflictTolerance?: number;
  /** Whether the parameter and representation levels must give the same update; default true. */
  sameAtBothLevels?: boolean;
  numRuns?: number;
}

const DEFAULT_SCALES = [1e-30, 1e-10, 3.5, 1e10, 1e30];

/** Registers the kit's property tests that `plan` claims, under `describe('<name> properties')`. */
export function describeAggregatorProperties(name: string, plan: PropertyPlan): void {
  const rows = plan.rows ?? { min: 2, max: 5 };
  const columns = plan.columns ?? { min: 1, max: 7 };
  const numRuns = plan.numRuns ?? 20;
  const matrices = matrixArbitrary({ rows, columns });
  const aggregate = aggregatorOf(plan.create);

  describe(`${name} properties`, () => {
    if (plan.nonConflicting === true) {
      it('conflicts with no objective gradient', () => {
        fc.assert(
          fc.property(matrices, (jacobian) => assertNonConflicting(jacobian, aggregate(jacobian), plan.conflictTolerance)),
          { numRuns, seed: 11 },
        );
      });
    }

    if (plan.permutationInvariant === true) {
      it('does not depend on the order of the objectives', () => {
        fc.assert(
          fc.property(matrices, (jacobian) => assertPermutationInvariant(aggregate, jacobian, plan.tolerance)),
          { numRuns: Math.ceil(numRuns / 2), seed: 12 },
        );
      });
    }

    if (plan.degree !== undefined) {
      it(`scales as c^${plan.degree} from 1e-30 to 1e30`, () => {
        fc.assert(
          fc.property(matrixArbitrary({ rows, columns, lowRank: false }), (jacobian) =>
            assertHomogeneous(aggregate, jacobian, plan.scales ?? DEFAULT_SCALES, plan.degree, plan.tolerance),
          ),
          { numRuns: Math.ceil(numRuns / 4), seed: 13 },
        );
      });
    }

    it('stays finite on zero, tiny and huge gradients', () => {
      for (const seed of [1, 2]) {
        for (const rank of [1, 2]) {
          assertFiniteOnExtremes(aggregate, sampleMatrix(seed, { rows: Math.max(rows.min, 3), columns: 4, rank }));
        }
      }
    });

    it('gives the same update on rank-deficient Gramians at both levels', () => {
      if (plan.sameAtBothLevels === false) {
        return;
      }
      const cases: Matrix[] = [
        sampleMatrix(3, { rows: Math.max(rows.min, 3), columns: 5, rank: 1 }),
        sampleMatrix(4, { rows: Math.max(rows.min, 4), columns: 6, rank: 2 }),
        sampleMatrix(5, { rows: rows.min, columns: 3 }),
      ];
      for (const jacobian of cases) {
        const parameter = aggregateJacobian(plan.create(), jacobian, { level: 'parameter' });
        const representation = aggregateJacobian(plan.create(), jacobian, { level: 'representation' });
        expect(parameter.every(Number.isFinite)).toBe(true);
        const magnitude = Math.max(1e-30, ...parameter.map(Math.abs), ...jacobian.flat().map(Math.abs));
        assertAllClose(representation, parameter, { rtol: 1e-4, atol: 1e-5 * magnitude, label: 'representation vs parameter' });
      }
    });

    for (const level of ['parameter', 'representation'] as GradientLevel[]) {
      it(`leaves no tensor behind at the ${level} level`, () => {
        assertNoAggregatorLeak(plan.create(), sampleMatrix(6, { rows: Math.max(rows.min, 3), columns: 4 }), 3, { level });
      });
    }
  });
}

/** Rows and expected outputs of the degenerate Jacobians of case B05, for one column of its table. */
export function degenerateCases(column: string): Array<{ name: string; jacobian: Matrix; expected: number[] | string; tolerance: number }> {
  return b05().flatMap((entry) => {
    const expected = entry.expected[column] ?? entry.expected['every aggregator'];
    return expected === undefined ? [] : [{ name: entry.name, jacobian: entry.input.J, expected, tolerance: entry.tolerance ?? 1e-4 }];
  });
}

interface DegenerateEntry {
  name: string;
  input: { J: Matrix };
  expected: Record<string, number[] | string>;
  tolerance?: number;
}

function b05(): DegenerateEntry[] {
  return regressionCase('B05').subcases as unknown as DegenerateEntry[];
}
