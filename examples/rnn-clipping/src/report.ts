import type { BatchRecord, RunResult } from './train.js';

/** Formats the summary table, one row per run. Norms are global L2 norms before clipping, over applied steps. */
export function summaryTable(results: readonly RunResult[]): string {
  const rows = results.map((result) => {
    const applied = result.batches.filter((batch) => batch.applied);
    const norms = applied.map((batch) => batch.normBefore);
    const last = result.batches.slice(-50).map((batch) => batch.loss);
    return [
      result.name,
      result.plugins.join(', '),
      `${applied.length}/${result.batches.length}`,
      String(result.skippedSteps),
      String(result.limitEvents),
      String(result.clippedSteps),
      String(result.spikes),
      formatNumber(norms[0]),
      formatNumber(median(norms)),
      formatNumber(norms.length === 0 ? undefined : Math.max(...norms)),
      formatNumber(mean(last)),
      result.testAccuracy.toFixed(3),
      result.trainSeconds.toFixed(1),
    ];
  });
  return table(
    ['run', 'plugins', 'applied', 'skipped', 'limit events', 'clipped', 'spikes', 'first norm', 'median norm', 'max norm', 'loss, last 50', 'test acc', 'train s'],
    rows,
  );
}

/**
 * Formats one value per run for consecutive windows of `window` batches:
 * the mean loss, the median gradient norm before clipping over applied
 * steps, or the number of skipped steps.
 */
export function windowTable(results: readonly RunResult[], window: number, quantity: 'loss' | 'norm' | 'skips'): string {
  const count = Math.max(...results.map((result) => result.batches.length));
  const rows: string[][] = [];
  for (let start = 0; start < count; start += window) {
    const cells = results.map((result) => {
      const slice = result.batches.slice(start, start + window);
      return formatNumber(summarize(slice, quantity));
    });
    rows.push([`${start + 1}-${Math.min(start + window, count)}`, ...cells]);
  }
  return table(['batches', ...results.map((result) => result.name)], rows);
}

function summarize(batches: readonly BatchRecord[], quantity: 'loss' | 'norm' | 'skips'): number | undefined {
  if (quantity === 'loss') {
    return mean(batches.map((batch) => batch.loss));
  }
  if (quantity === 'norm') {
    return median(batches.filter((batch) => batch.applied).map((batch) => batch.normBefore));
  }
  return batches.filter((batch) => !batch.applied).length;
}

/** Mean of `values`: NaN when one is NaN, undefined when there are none. */
function mean(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((total, value) => total + value, 0) / values.length;
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) {
    return undefined;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Writes a number with 3 significant digits, in exponent form outside [0.001, 100000), or '-' when there is none. */
function formatNumber(value: number | undefined): string {
  if (value === undefined) {
    return '-';
  }
  if (!Number.isFinite(value)) {
    return String(value);
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e5) {
    return String(value);
  }
  const magnitude = Math.abs(value);
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5) ? value.toExponential(2) : value.toPrecision(3);
}

/** Formats a Markdown table with columns padded to equal width. */
function table(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
