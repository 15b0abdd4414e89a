import type { ChartSpec } from './charts.js';

/** One part of the report: a heading, its HTML and the charts its HTML places. */
export interface Section {
  id: string;
  title: string;
  /** HTML of the section's body. */
  body: string;
  charts: ChartSpec[];
  /** False when the run has no events for the section; its body then states what is absent. */
  present: boolean;
}

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => entities[character]!);
}

/** Formats a number with up to 4 significant digits; NaN and infinities as words. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) {
    return 'n/a';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? 'Infinity' : '-Infinity';
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e9) {
    return String(value);
  }
  return String(Number(value.toPrecision(4)));
}

/** Formats a share as a percentage with one decimal. */
export function formatPercent(share: number): string {
  return Number.isNaN(share) ? 'n/a' : `${(share * 100).toFixed(1)}%`;
}

/** Formats an option value for the config table: JSON, with strings unquoted. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  return JSON.stringify(value) ?? String(value);
}

/**
 * Renders a table; cells are text and are escaped. `headers` null leaves
 * out the header row (a two-column list of facts).
 */
export function table(headers: readonly string[] | null, rows: ReadonlyArray<readonly string[]>, options: { numeric?: readonly number[] } = {}): string {
  const numeric = new Set(options.numeric ?? []);
  const cell = (tag: string, text: string, column: number) => `<${tag}${numeric.has(column) ? ' class="num"' : ''}>${escapeHtml(text)}</${tag}>`;
  const head = headers === null ? '' : `<thead><tr>${headers.map((header, column) => cell('th', header, column)).join('')}</tr></thead>\n`;
  const body = rows.map((row) => `<tr>${row.map((text, column) => cell('td', text, column)).join('')}</tr>`).join('\n');
  return `<table class="data">\n${head}<tbody>\n${body}\n</tbody>\n</table>`;
}

/** Places a chart: the element its script draws into, and a caption (HTML). */
export function figure(chart: ChartSpec, caption: string): string {
  return `<figure class="chart"><div class="plot" id="chart-${escapeHtml(chart.id)}" data-chart="${escapeHtml(chart.id)}"></div><figcaption>${caption}</figcaption></figure>`;
}

/** Wraps the sentence a section shows when the run has none of its events. */
export function absent(text: string): string {
  return `<p class="absent">${text}</p>`;
}

/** Describes downsampling in a caption, or nothing when every point is drawn. */
export function bucketNote(bucket: number, unit = 'steps'): string {
  return bucket === 1 ? '' : ` Each point is the mean over up to ${bucket} consecutive ${unit}.`;
}

/** Turns free text into a fragment usable in an element id. */
export function slug(text: string): string {
  const cleaned = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return cleaned === '' ? 'unnamed' : cleaned;
}

/** Wraps an event name in code tags for sentences. */
export function code(text: string): string {
  return `<code>${escapeHtml(text)}</code>`;
}
