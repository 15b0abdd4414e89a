import type { Point } from './runData.js';

/** One line of a chart. */
export interface ChartSeries {
  label: string;
  /** One value per x of the chart; null draws a gap (or is spanned, for sparse series). */
  values: Array<number | null>;
  /** CSS color of the line. */
  color: string;
  /** Axis the series belongs to: the left `y` axis (default) or the right `y2` axis. */
  scale?: 'y' | 'y2';
  /** Draw a marker at every point, for series with few points (one per epoch). */
  markers?: boolean;
  /** Draw as a step function (counts that change at events). */
  stepped?: boolean;
  dash?: boolean;
}

/** A chart as the page's script draws it with uPlot. */
export interface ChartSpec {
  id: string;
  x: number[];
  xLabel: string;
  yLabel: string;
  /** Logarithmic y axis; set only when every plotted value is positive. */
  yLog?: boolean;
  yRange?: [number, number];
  y2Label?: string;
  y2Range?: [number, number];
  series: ChartSeries[];
  /** Height in CSS pixels. */
  height?: number;
}

/** Tableau 10, a palette whose colors stay distinct for most readers, including many with color vision deficiencies. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function colorAt(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}

/** Input of `alignedChart`: a series with its own points, before they share one x axis. */
export interface SeriesInput extends Omit<ChartSeries, 'values' | 'color'> {
  points: readonly Point[];
  color?: string;
}

/** Aligned series after downsampling, and the bucket size used (1 when not downsampled). */
export interface AlignedChart {
  chart: ChartSpec;
  bucket: number;
}

/**
 * Puts series with their own x values on one sorted x axis (null where a
 * series has no point), then averages buckets of consecutive x values when
 * there are more than `maxPoints`, so a run of any length draws quickly.
 * Values are rounded to 6 significant digits, which keeps every float32 digit
 * that matters on a chart and halves the size of the page's data.
 */
export function alignedChart(base: Omit<ChartSpec, 'x' | 'series'>, inputs: readonly SeriesInput[], maxPoints: number): AlignedChart {
  const xs = new Set<number>();
  for (const input of inputs) {
    for (const [x] of input.points) {
      xs.add(x);
    }
  }
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((value, i) => [value, i]));
  const columns = inputs.map((input) => {
    const values = new Array<number | null>(x.length).fill(null);
    for (const [px, py] of input.points) {
      // A later point at the same x replaces an earlier one: a step retried after a skip reports again.
      values[index.get(px)!] = py;
    }
    return values;
  });
  const bucket = Math.max(1, Math.ceil(x.length / Math.max(1, maxPoints)));
  const reduced = bucket === 1 ? { x, columns } : bucketMeans(x, columns, bucket);
  const series = inputs.map((input, i): ChartSeries => {
    const { points: _points, color, ...rest } = input;
    return { ...rest, color: color ?? colorAt(i), values: reduced.columns[i]!.map(round) };
  });
  const yLog = base.yLog === true && series.every((entry) => entry.scale === 'y2' || entry.values.every((value) => value === null || value > 0));
  return { chart: { ...base, yLog, x: reduced.x, series }, bucket };
}

function bucketMeans(x: readonly number[], columns: ReadonlyArray<ReadonlyArray<number | null>>, bucket: number) {
  const starts: number[] = [];
  for (let start = 0; start < x.length; start += bucket) {
    starts.push(start);
  }
  const reducedColumns = columns.map((column) =>
    starts.map((start) => {
      let sum = 0;
      let count = 0;
      for (let i = start; i < Math.min(start + bucket, column.length); i++) {
        const value = column[i];
        if (value !== null && value !== undefined) {
          sum += value;
          count += 1;
        }
      }
      return count === 0 ? null : sum / count;
    }),
  );
  return { x: starts.map((start) => x[start]!), columns: reducedColumns };
}

function round(value: number | null): number | null {
  return value === null ? null : Number(value.toPrecision(6));
}

/** Window, in reported steps, of the rolling rates: about a twentieth of the run, from 1 to 100 steps. */
export function rateWindow(count: number): number {
  return Math.max(1, Math.min(100, Math.ceil(count / 20)));
}

/** Returns, for each entry, the mean of the 0/1 flags over the last `window` entries up to it. */
export function rollingRate(flags: ReadonlyArray<readonly [number, number]>, window: number): Point[] {
  const sorted = [...flags].sort((a, b) => a[0] - b[0]);
  const result: Point[] = [];
  let sum = 0;
  sorted.forEach(([x, flag], i) => {
    sum += flag;
    if (i >= window) {
      sum -= sorted[i - window]![1];
    }
    result.push([x, sum / Math.min(i + 1, window)]);
  });
  return result;
}

/** Returns the share of flags that are 1, or NaN when there are none. */
export function overallRate(flags: ReadonlyArray<readonly [number, number]>): number {
  if (flags.length === 0) {
    return Number.NaN;
  }
  return flags.reduce((total, [, flag]) => total + flag, 0) / flags.length;
}

/** Returns the running count of zero flags (skipped calls), as a step series. */
export function cumulativeZeros(flags: ReadonlyArray<readonly [number, number]>): Point[] {
  const sorted = [...flags].sort((a, b) => a[0] - b[0]);
  let count = 0;
  return sorted.map(([x, flag]) => {
    count += flag === 0 ? 1 : 0;
    return [x, count];
  });
}
