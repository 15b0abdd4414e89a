import type { PhaseRow } from './breakdown.js';
import type { VariantTimings } from './measure.js';
import { median, pairedRatio, quantile, ratioInterval } from './stats.js';
import type { Variant } from './variants.js';

/** Formats rows as a Markdown table, so the output pastes into a page unchanged. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** Summary of one variant against its baseline. */
export interface VariantResult {
  variant: Variant;
  medianMs: number;
  ratio: number | undefined;
  withinTarget: boolean | undefined;
}

/**
 * Builds the step-time table. Each row has the variant's median and
 * interquartile range, the ratio of its median to its baseline's median with
 * a bootstrap 95% interval, and the median of the per-round ratios. The
 * verdict against the target is taken on the ratio of medians.
 */
export function stepTable(variants: readonly Variant[], timings: ReadonlyMap<string, VariantTimings>): { text: string; results: VariantResult[] } {
  const results: VariantResult[] = [];
  const rows = variants.map((variant) => {
    const samples = timings.get(variant.key)!.milliseconds;
    const medianMs = median(samples);
    const spread = `${quantile(samples, 0.25).toFixed(1)}–${quantile(samples, 0.75).toFixed(1)}`;
    if (variant.baseline === undefined) {
      results.push({ variant, medianMs, ratio: undefined, withinTarget: undefined });
      return [variant.key, variant.description, medianMs.toFixed(2), spread, '1 (baseline)', '', '', '', ''];
    }
    const base = timings.get(variant.baseline)!.milliseconds;
    const ratio = medianMs / median(base);
    const [low, high] = ratioInterval(samples, base);
    const within = variant.target === undefined ? undefined : ratio <= variant.target;
    results.push({ variant, medianMs, ratio, withinTarget: within });
    let verdict = '—';
    if (within !== undefined) {
      verdict = within ? 'yes' : 'no';
    }
    return [
      variant.key,
      variant.description,
      medianMs.toFixed(2),
      spread,
      `${ratio.toFixed(3)} × ${variant.baseline}`,
      `${low.toFixed(3)}–${high.toFixed(3)}`,
      pairedRatio(samples, base).toFixed(3),
      variant.target === undefined ? '—' : `≤ ${variant.target.toFixed(2)}`,
      verdict,
    ];
  });
  const header = ['variant', 'what one step runs', 'median ms', 'IQR ms', 'ratio of medians', '95% CI', 'paired ratio', 'target', 'within target'];
  return { text: formatTable(header, rows), results };
}

/**
 * Builds the breakdown table. Each group's reference is the wall time of the
 * real step when it was measured, otherwise the sum of the group's phases,
 * which is appended as its own row.
 */
export function breakdownTable(phases: readonly PhaseRow[]): string {
  const rows: string[][] = [];
  const groups = [...new Set(phases.map((row) => row.group))];
  for (const group of groups) {
    const members = phases.filter((row) => row.group === group);
    const wall = members.find((row) => row.phase.startsWith('wall time'));
    const reference = wall?.medianMs ?? members.reduce((total, row) => total + row.medianMs, 0);
    for (const row of members) {
      rows.push([group, row.phase, row.medianMs.toFixed(2), `${((100 * row.medianMs) / reference).toFixed(1)}%`]);
    }
    if (wall === undefined) {
      rows.push([group, 'sum of the phase medians', reference.toFixed(2), '100.0%']);
    }
  }
  return formatTable(['step', 'phase', 'median ms', 'share'], rows);
}
