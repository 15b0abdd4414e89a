import { alignedChart } from '../charts.js';
import type { ChartSpec } from '../charts.js';
import { absent, bucketNote, code, escapeHtml, figure, formatNumber, formatPercent, slug, table } from '../format.js';
import type { Section } from '../format.js';
import type { FreezeRecord, Point } from '../runData.js';
import type { SectionContext } from './context.js';

/** Maximum layers listed in the freeze table; the rest are counted. */
const MAX_LAYER_ROWS = 40;
/** Maximum plugin-state charts; further values are listed by name. */
const MAX_STATE_CHARTS = 24;

/** Builds the section on GAQAT's frozen quantizer scales over time. */
export function freezeSection(context: SectionContext): Section {
  const { data } = context;
  const title = 'GAQAT frozen layers';
  const records = data.freezes.records;
  if (records.length === 0) {
    return {
      id: 'frozen-layers',
      title,
      body: absent(`No ${code('freeze')} events: the gaqat plugin did not run, or no window of it ended.`),
      charts: [],
      present: false,
    };
  }

  const timeline = frozenTimeline(records);
  const { chart, bucket } = alignedChart(
    { id: context.chartId('frozen'), xLabel: 'step', yLabel: 'layers', y2Label: 'mean disorder' },
    [
      { label: 'frozen', points: timeline.frozen, stepped: true },
      { label: 'tracked', points: timeline.tracked, stepped: true, dash: true },
      { label: 'mean disorder', points: timeline.disorder, scale: 'y2', markers: timeline.disorder.length <= 200 },
    ],
    context.maxPoints,
  );

  const layers = layerRows(records);
  const rows = layers.slice(0, MAX_LAYER_ROWS).map((layer) => [layer.name, String(layer.decisions), formatPercent(layer.frozenShare), layer.frozenNow ? 'frozen' : 'free', formatNumber(layer.meanDisorder)]);
  const more = layers.length > MAX_LAYER_ROWS ? `<p>${layers.length - MAX_LAYER_ROWS} more layer(s) are not listed.</p>` : '';

  const plugins = [...data.freezes.plugins].map(escapeHtml).join(', ');
  const body = [
    figure(
      chart,
      `Quantizer scales${plugins === '' ? '' : ` of ${plugins}`} whose gradient component is frozen after each window decision (left axis), and the mean disorder of the scales decided at that step (right axis). A scale with disorder below the threshold is frozen for the next window.${bucketNote(bucket)}`,
    ),
    table(['layer', 'decisions', 'frozen share', 'at the end', 'mean disorder'], rows, { numeric: [1, 2, 4] }),
    more,
  ].join('\n');
  return { id: 'frozen-layers', title, body, charts: [chart], present: true };
}

function frozenTimeline(records: readonly FreezeRecord[]): { frozen: Point[]; tracked: Point[]; disorder: Point[] } {
  const sorted = [...records].sort((a, b) => a.step - b.step);
  const state = new Map<string, boolean>();
  const frozen: Point[] = [];
  const tracked: Point[] = [];
  const disorder: Point[] = [];
  let i = 0;
  while (i < sorted.length) {
    const step = sorted[i]!.step;
    let sum = 0;
    let count = 0;
    for (; i < sorted.length && sorted[i]!.step === step; i++) {
      const record = sorted[i]!;
      state.set(record.layer, record.frozen);
      if (record.disorder !== null) {
        sum += record.disorder;
        count += 1;
      }
    }
    frozen.push([step, [...state.values()].filter(Boolean).length]);
    tracked.push([step, state.size]);
    disorder.push([step, count === 0 ? null : sum / count]);
  }
  return { frozen, tracked, disorder };
}

function layerRows(records: readonly FreezeRecord[]) {
  const layers = new Map<string, { name: string; decisions: number; frozenCount: number; frozenNow: boolean; disorderSum: number; disorderCount: number; lastStep: number }>();
  for (const record of records) {
    const layer = layers.get(record.layer) ?? { name: record.layer, decisions: 0, frozenCount: 0, frozenNow: false, disorderSum: 0, disorderCount: 0, lastStep: -1 };
    layer.decisions += 1;
    layer.frozenCount += record.frozen ? 1 : 0;
    if (record.step >= layer.lastStep) {
      layer.frozenNow = record.frozen;
      layer.lastStep = record.step;
    }
    if (record.disorder !== null) {
      layer.disorderSum += record.disorder;
      layer.disorderCount += 1;
    }
    layers.set(record.layer, layer);
  }
  return [...layers.values()]
    .map((layer) => ({
      name: layer.name,
      decisions: layer.decisions,
      frozenShare: layer.frozenCount / layer.decisions,
      frozenNow: layer.frozenNow,
      meanDisorder: layer.disorderCount === 0 ? undefined : layer.disorderSum / layer.disorderCount,
    }))
    .sort((a, b) => b.frozenShare - a.frozenShare || a.name.localeCompare(b.name));
}

/** Builds the section on numbers plugins report about their own state (EMA norms, thresholds, counters). */
export function stateSection(context: SectionContext): Section {
  const { data } = context;
  const title = 'Plugin state';
  if (data.states.size === 0) {
    return { id: 'plugin-state', title, body: absent(`No ${code('state')} events: no plugin reported its state.`), charts: [], present: false };
  }

  const parts: string[] = ['<div class="grid">'];
  const charts: ChartSpec[] = [];
  const unplotted: string[] = [];
  for (const [plugin, state] of data.states) {
    for (const [key, points] of state.numbers) {
      if (charts.length >= MAX_STATE_CHARTS) {
        unplotted.push(`${plugin} ${key}`);
        continue;
      }
      const { chart, bucket } = alignedChart(
        { id: context.chartId(`state-${slug(plugin)}-${slug(key)}`), xLabel: 'step', yLabel: key, height: 180 },
        [{ label: key, points, markers: points.length <= 50 }],
        context.maxPoints,
      );
      charts.push(chart);
      parts.push(figure(chart, `${code(key)} of ${escapeHtml(plugin)}.${bucketNote(bucket)}`));
    }
  }
  parts.push('</div>');

  if (unplotted.length > 0) {
    parts.push(`<p>Not drawn, to keep the page fast: ${unplotted.map(escapeHtml).join(', ')}.</p>`);
  }

  const texts = [...data.states].flatMap(([plugin, state]) => [...state.texts].map(([key, value]) => [plugin, key, value]));
  if (texts.length > 0) {
    parts.push(`<p>Last value of each non-numeric state entry:</p>\n${table(['plugin', 'key', 'value'], texts)}`);
  }
  return { id: 'plugin-state', title, body: parts.join('\n'), charts, present: true };
}

/** Builds the section that counts events third-party plugins publish under their own names, or returns undefined when there are none. */
export function otherEventsSection(context: SectionContext, known: ReadonlySet<string>): Section | undefined {
  const others = [...context.data.eventCounts].filter(([event]) => !known.has(event));
  if (others.length === 0) {
    return undefined;
  }
  const rows = others.map(([event, count]) => [event, String(count)]);
  return {
    id: 'other-events',
    title: 'Other events',
    body: `<p>Events the report does not draw, counted:</p>\n${table(['event', 'count'], rows, { numeric: [1] })}`,
    charts: [],
    present: true,
  };
}
