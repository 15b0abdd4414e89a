import { alignedChart, colorAt, cumulativeZeros, overallRate, rateWindow, rollingRate } from '../charts.js';
import type { ChartSpec } from '../charts.js';
import { absent, bucketNote, code, escapeHtml, figure, formatNumber, formatPercent, slug, table } from '../format.js';
import type { Section } from '../format.js';
import type { SectionContext } from './context.js';

/** Builds the section on pairwise cosines and the conflict rate, per plugin that reports conflicts. */
export function conflictSection(context: SectionContext): Section {
  const { data } = context;
  const title = 'Gradient conflicts';
  if (data.conflicts.size === 0) {
    return {
      id: 'conflicts',
      title,
      body: absent(`No ${code('conflict')} events: no aggregator reported the cosines between objective gradients. The built-in aggregators (sum, mean, pcgrad, ...) report them on reporting steps.`),
      charts: [],
      present: false,
    };
  }
  const parts: string[] = [];
  const charts: ChartSpec[] = [];
  for (const [plugin, series] of data.conflicts) {
    const cosines = alignedChart(
      { id: context.chartId(`cosines-${slug(plugin)}`), xLabel: 'step', yLabel: 'cosine', yRange: [-1, 1] },
      [...series.cosines].map(([pair, points]) => ({ label: pair, points })),
      context.maxPoints,
    );
    charts.push(cosines.chart);
    parts.push(`<h3>${escapeHtml(plugin)}</h3>`);
    parts.push(
      figure(
        cosines.chart,
        `Cosine between each pair of objective gradients, before ${escapeHtml(plugin)} combines them. Below 0 the pair conflicts.${bucketNote(cosines.bucket)}`,
      ),
    );
    const window = rateWindow(series.conflicted.length);
    const rate = alignedChart(
      { id: context.chartId(`conflict-rate-${slug(plugin)}`), xLabel: 'step', yLabel: 'share of steps', yRange: [0, 1] },
      [{ label: `conflict rate (last ${window} reported steps)`, points: rollingRate(series.conflicted, window) }],
      context.maxPoints,
    );
    charts.push(rate.chart);
    parts.push(
      figure(
        rate.chart,
        `Share of the last ${window} reported steps on which at least one pair conflicted (a negative dot product). Over the whole run: ${formatPercent(overallRate(series.conflicted))} of ${series.conflicted.length} reported steps.${bucketNote(rate.bucket)}`,
      ),
    );
    const projections = data.projections.get(plugin);
    if (projections !== undefined) {
      const rows = [...projections].map(([pair, entry]) => [pair, String(entry.count), formatNumber(entry.coefficientSum / entry.count)]);
      parts.push(`<p>Projections by ${escapeHtml(plugin)} (${code('projection')} events):</p>\n${table(['projection', 'count', 'mean coefficient'], rows, { numeric: [1, 2] })}`);
    }
  }
  return { id: 'conflicts', title, body: parts.join('\n'), charts, present: true };
}

/** Builds the section on the weights each aggregator gave the objectives. */
export function weightsSection(context: SectionContext): Section {
  const { data } = context;
  const title = 'Aggregator weights';
  const withWeights = [...data.conflicts].filter(([, series]) => series.weights.size > 0);
  if (withWeights.length === 0) {
    return {
      id: 'weights',
      title,
      body: absent(`No ${code('conflict')} event carries ${code('weights')}: ${data.conflicts.size === 0 ? 'no aggregator reported' : 'the aggregators of this run do not compute per-objective weights'}.`),
      charts: [],
      present: false,
    };
  }
  const parts: string[] = [];
  const charts: ChartSpec[] = [];
  for (const [plugin, series] of withWeights) {
    const { chart, bucket } = alignedChart(
      { id: context.chartId(`weights-${slug(plugin)}`), xLabel: 'step', yLabel: 'weight' },
      [...series.weights].map(([objective, points]) => ({ label: objective, points })),
      context.maxPoints,
    );
    charts.push(chart);
    parts.push(figure(chart, `Weight ${escapeHtml(plugin)} gave each objective's gradient in the combined update.${bucketNote(bucket)}`));
  }
  return { id: 'weights', title, body: parts.join('\n'), charts, present: true };
}

/** Builds the section on the norm before and after each clipping plugin, with its clip rate. */
export function clippingSection(context: SectionContext): Section {
  const { data } = context;
  const title = 'Clipping';
  if (data.clips.size === 0) {
    return {
      id: 'clipping',
      title,
      body: absent(`No ${code('clip')} events: no clipping plugin ran, or none reported norms (clip-global-norm, autoclip and zclip report them on reporting steps).`),
      charts: [],
      present: false,
    };
  }
  const parts: string[] = [];
  const charts: ChartSpec[] = [];
  for (const [plugin, series] of data.clips) {
    const window = rateWindow(series.clipped.length);
    const { chart, bucket } = alignedChart(
      {
        id: context.chartId(`clip-${slug(plugin)}`),
        xLabel: 'step',
        yLabel: 'gradient norm',
        yLog: true,
        y2Label: 'clip rate',
        y2Range: [0, 1],
      },
      [
        { label: 'norm before', points: series.normBefore },
        { label: 'norm after', points: series.normAfter, dash: true },
        { label: `clip rate (last ${window} reported steps)`, points: rollingRate(series.clipped, window), scale: 'y2', color: colorAt(2) },
      ],
      context.maxPoints,
    );
    charts.push(chart);
    const nonFinite = series.nonFiniteSteps === 0 ? '' : ` On ${series.nonFiniteSteps} step(s) the norm was not finite and the gradients were left as they were.`;
    parts.push(`<h3>${escapeHtml(plugin)}</h3>`);
    parts.push(
      figure(
        chart,
        `Norm of the gradients ${escapeHtml(plugin)} covers, before and after it ran (left axis${chart.yLog === true ? ', logarithmic' : ''}), and the share of the last ${window} reported steps it clipped (right axis). Over the whole run it clipped ${formatPercent(overallRate(series.clipped))} of ${series.clipped.length} reported steps.${nonFinite}${bucketNote(bucket)}`,
      ),
    );
  }
  return { id: 'clipping', title, body: parts.join('\n'), charts, present: true };
}

/** Builds the section on skipped step calls over time, and their reasons. */
export function skipsSection(context: SectionContext): Section {
  const { data } = context;
  const title = 'Skipped steps';
  if (data.skips.length === 0 && data.calls.skipped === 0) {
    const calls = data.calls.total === 0 ? 'This run has no step events either.' : `All ${data.calls.total} step calls applied an update.`;
    return { id: 'skips', title, body: absent(`No ${code('skip')} events: no step was skipped. ${calls}`), charts: [], present: false };
  }
  const parts: string[] = [];
  const charts: ChartSpec[] = [];
  if (data.applied.length > 0) {
    const { chart, bucket } = alignedChart(
      { id: context.chartId('skips'), xLabel: 'step call', yLabel: 'skipped calls so far' },
      [{ label: 'skipped calls so far', points: cumulativeZeros(data.applied), stepped: true, color: colorAt(2) }],
      context.maxPoints,
    );
    charts.push(chart);
    parts.push(figure(chart, `Running count of step calls that applied no update, out of ${data.calls.total} calls (${formatPercent(data.calls.skipped / data.calls.total)} skipped).${bucketNote(bucket, 'calls')}`));
  }
  const reasons = new Map<string, { plugin: string; reason: string; count: number; first: number; last: number }>();
  for (const skip of data.skips) {
    const key = `${skip.plugin ?? ''}\u0000${skip.reason}`;
    const entry = reasons.get(key) ?? { plugin: skip.plugin ?? '(core)', reason: skip.reason, count: 0, first: skip.step, last: skip.step };
    entry.count += 1;
    entry.first = Math.min(entry.first, skip.step);
    entry.last = Math.max(entry.last, skip.step);
    reasons.set(key, entry);
  }
  const rows = [...reasons.values()].sort((a, b) => b.count - a.count).map((entry) => [entry.plugin, entry.reason, String(entry.count), String(entry.first), String(entry.last)]);
  if (rows.length > 0) {
    parts.push(table(['skipped by', 'reason', 'count', 'first step', 'last step'], rows, { numeric: [2, 3, 4] }));
  }
  return { id: 'skips', title, body: parts.join('\n'), charts, present: true };
}

/** Builds the section on what plugins in dry-run mode would have changed. */
export function dryRunSection(context: SectionContext): Section {
  const { data } = context;
  const title = 'Dry runs';
  const dryPlugins = (data.sessions[0]?.plugins ?? []).filter((plugin) => plugin.options['dryRun'] === true).map((plugin) => plugin.name);
  if (data.dryRuns.size === 0) {
    const reason = dryPlugins.length === 0 ? 'no plugin ran with the option dryRun: true' : `${dryPlugins.map(escapeHtml).join(', ')} ran with dryRun: true but reported nothing`;
    return { id: 'dry-runs', title, body: absent(`No ${code('dryRun')} events: ${reason}.`), charts: [], present: false };
  }
  const parts = [
    `<p>A plugin with the option ${code('dryRun: true')} computes its change and reports it, and the step continues as if it had not run.</p>`,
  ];
  const charts: ChartSpec[] = [];
  const withChanges = [...data.dryRuns.values()].filter((series) => series.relativeChange.length > 0);
  if (withChanges.length > 0) {
    const { chart, bucket } = alignedChart(
      { id: context.chartId('dry-run-change'), xLabel: 'step', yLabel: 'relative change', yLog: true },
      withChanges.map((series) => ({ label: `${series.plugin} (${series.hook})`, points: series.relativeChange })),
      context.maxPoints,
    );
    charts.push(chart);
    parts.push(
      figure(
        chart,
        `Relative change each dry-run plugin would have made to the gradients it receives, ‖after − before‖ / ‖before‖${chart.yLog === true ? ', on a logarithmic axis' : ''}.${bucketNote(bucket)}`,
      ),
    );
  }
  const rows = [...data.dryRuns.values()].map((series) => {
    const skips = [...series.wouldSkip].map(([reason, count]) => `${reason} (${count})`).join('; ');
    const changes = series.relativeChange.map(([, value]) => value).filter((value): value is number => value !== null);
    const mean = changes.length === 0 ? undefined : changes.reduce((total, value) => total + value, 0) / changes.length;
    return [series.plugin, series.hook, String(series.relativeChange.length), formatNumber(mean), skips === '' ? 'none' : skips];
  });
  parts.push(table(['plugin', 'hook', 'reports', 'mean relative change', 'would have skipped'], rows, { numeric: [2, 3] }));
  return { id: 'dry-runs', title, body: parts.join('\n'), charts, present: true };
}
