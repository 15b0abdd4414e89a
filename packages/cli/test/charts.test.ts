import { describe, expect, it } from 'vitest';

import { alignedChart, cumulativeZeros, overallRate, rateWindow, rollingRate } from '../src/report/charts.js';
import { collectLine, readNumber } from '../src/report/collect.js';
import { emptyRunData } from '../src/report/runData.js';

describe('chart helpers', () => {
  it('rolling rate over a window', () => {
    const flags: Array<[number, number]> = [[0, 1], [1, 0], [2, 1], [3, 1], [4, 0]];

    expect(rollingRate(flags, 2)).toEqual([[0, 1], [1, 0.5], [2, 0.5], [3, 1], [4, 0.5]]);
    expect(overallRate(flags)).toBe(0.6);
    expect(overallRate([])).toBeNaN();
  });

  it('window grows with the run', () => {
    expect([1, 20, 21, 282, 2000, 100_000].map(rateWindow)).toEqual([1, 1, 2, 15, 100, 100]);
  });

  it('cumulative count of zero flags', () => {
    expect(cumulativeZeros([[3, 0], [1, 1], [2, 0], [4, 1]])).toEqual([[1, 0], [2, 1], [3, 2], [4, 2]]);
  });

  it('aligns series on one sorted axis', () => {
    const { chart, bucket } = alignedChart(
      { id: 'c', xLabel: 'step', yLabel: 'y' },
      [
        { label: 'a', points: [[2, 1], [0, 3]] },
        { label: 'b', points: [[1, 0.123456789], [2, null], [2, 5]] },
      ],
      10,
    );

    expect(bucket).toBe(1);
    expect(chart.x).toEqual([0, 1, 2]);
    expect(chart.series.map((series) => series.values)).toEqual([[3, null, 1], [null, 0.123457, 5]]);
    expect(chart.series.map((series) => series.color)).toEqual(['#4e79a7', '#f28e2b']);
  });

  it('averages buckets beyond the point limit', () => {
    const points: Array<[number, number | null]> = Array.from({ length: 10 }, (_, i) => [i, i === 3 ? null : i]);
    const { chart, bucket } = alignedChart({ id: 'c', xLabel: 'step', yLabel: 'y' }, [{ label: 'a', points }], 4);

    expect(bucket).toBe(3);
    expect(chart.x).toEqual([0, 3, 6, 9]);
    // Buckets [0, 1, 2], [null, 4, 5], [6, 7, 8], [9]; nulls are left out of the mean.
    expect(chart.series[0]!.values).toEqual([1, 4.5, 7, 9]);
  });

  it('drops the log axis when a value is not positive', () => {
    const positive = alignedChart({ id: 'c', xLabel: 'step', yLabel: 'y', yLog: true }, [{ label: 'a', points: [[0, 1], [1, 2]] }], 10);
    const zero = alignedChart({ id: 'c', xLabel: 'step', yLabel: 'y', yLog: true }, [{ label: 'a', points: [[0, 0], [1, 2]] }], 10);

    expect(positive.chart.yLog).toBe(true);
    expect(zero.chart.yLog).toBe(false);
  });
});

describe('event collection', () => {
  it('reads the sink encoding of non-finite numbers', () => {
    expect(readNumber('NaN')).toBeNaN();
    expect(readNumber('Infinity')).toBe(Number.POSITIVE_INFINITY);
    expect(readNumber('-Infinity')).toBe(Number.NEGATIVE_INFINITY);
    expect(readNumber(2.5)).toBe(2.5);
    expect(readNumber('2.5')).toBeUndefined();
  });

  it('splits cosines into pairs', () => {
    const data = emptyRunData();
    collectLine(
      data,
      JSON.stringify({ event: 'conflict', step: 4, plugin: 'upgrad', objectives: ['a', 'b', 'c'], cosines: [[1, -0.5, 0.2], [-0.5, 1, 'NaN'], [0.2, 'NaN', 1]], conflicts: 1, weights: [0.3, 0.3, 0.4] }),
    );
    const conflict = data.conflicts.get('upgrad')!;

    expect([...conflict.cosines]).toEqual([
      ['a · b', [[4, -0.5]]],
      ['a · c', [[4, 0.2]]],
      ['b · c', [[4, null]]],
    ]);
    expect(conflict.conflicted).toEqual([[4, 1]]);
    expect([...conflict.weights.keys()]).toEqual(['a', 'b', 'c']);
    expect(data.nonFinite.get('cosine')).toBe(1);
  });
});
