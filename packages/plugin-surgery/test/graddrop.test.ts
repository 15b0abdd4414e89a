import { describe, expect, it } from 'vitest';

import { graddrop } from '@gradhooks/plugin-surgery';
import { aggregateJacobian, aggregateJacobians, assertAllClose, sampleMatrix } from '@gradhooks/testing';

import { describeAggregatorProperties } from './aggregatorProperties.js';

describe('graddrop', () => {
  it('keeps coordinates where every gradient has the same sign', () => {
    // Purity is 1 where all are positive and 0 where all are negative, so nothing is dropped there.
    const rows = [
      [1, -2, 0],
      [3, -1, 0],
    ];
    expect(aggregateJacobian(graddrop(), rows)).toEqual([4, -3, 0]);
  });

  it('keeps exactly one sign in each mixed coordinate', () => {
    const rows = [
      [1, -1, 2, -3, 0.5],
      [-1, 1, -2, 3, -0.5],
      [0.5, 0.5, 0.5, 0.5, 0.5],
    ];
    for (const seed of [1, 2, 3, 4, 5]) {
      const output = aggregateJacobian(graddrop({ seed }), rows);
      output.forEach((value, c) => {
        const positive = rows.reduce((total, row) => total + Math.max(0, row[c]!), 0);
        const negative = rows.reduce((total, row) => total + Math.min(0, row[c]!), 0);
        expect([positive, negative].some((expected) => Math.abs(value - expected) < 1e-6)).toBe(true);
      });
    }
  });

  it('keeps a leaked fraction of the dropped sign', () => {
    const rows = [[2], [-1]];
    const outputs = new Set<number>();
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      outputs.add(Math.round(aggregateJacobian(graddrop({ seed, leak: 0.25 }), rows)[0]! * 1e6) / 1e6);
    }
    // Keep the positive sign: 2 + 0.25·(−1) = 1.75; keep the negative one: 0.25·2 − 1 = −0.5.
    expect([...outputs].every((value) => value === 1.75 || value === -0.5)).toBe(true);
    expect(outputs.size).toBe(2);
  });

  it('takes a leak per objective name', () => {
    const output = aggregateJacobian(graddrop({ leak: { task0: 1, task1: 1 } }), [[2], [-1]]);
    assertAllClose(output, [1], { rtol: 1e-6 });
    expect(() => aggregateJacobian(graddrop({ leak: { other: 1 } }), [[2], [-1]])).toThrowError(expect.objectContaining({ plugin: 'graddrop', path: '/leak' }));
  });

  it('draws the same masks for the same seed and new ones each step', () => {
    const rows = sampleMatrix(5, { rows: 3, columns: 40 });
    const first = aggregateJacobians(graddrop({ seed: 9 }), [rows, rows]).map((step) => step.output);
    const second = aggregateJacobians(graddrop({ seed: 9 }), [rows, rows]).map((step) => step.output);
    expect(second).toEqual(first);
    expect(first[1]).not.toEqual(first[0]);
  });
});

describe('graddrop variables', () => {
  it('warns once when no shared variable matches', () => {
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} };
    const steps = aggregateJacobians(graddrop({ variables: ['nothing/**'] }), [[[2], [-1]], [[2], [-1]]], { logger });
    expect(steps.map((step) => step.output)).toEqual([[1], [1]]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('match none of the 1 shared variables');
  });
});

describeAggregatorProperties('graddrop', { create: () => graddrop({ seed: 1 }), degree: 1, tolerance: { rtol: 1e-4, relativeAtol: 1e-5 } });
