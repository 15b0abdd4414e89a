import { alignedChart, overallRate } from '../charts.js';
import { absent, bucketNote, code, escapeHtml, figure, formatNumber, formatPercent, formatValue, slug, table } from '../format.js';
import type { Section } from '../format.js';
import type { Point } from '../runData.js';
import type { SectionContext } from './context.js';

/** Builds the summary: key numbers of the run, and the event kinds it has and lacks. */
export function summarySection(context: SectionContext, source: string): Section {
  const { data } = context;
  const session = data.sessions[0];
  const rows: Array<[string, string]> = [
    ['telemetry file', source],
    ['events', `${data.events} on ${data.lines} lines${data.rejected.count === 0 ? '' : `, ${data.rejected.count} line(s) skipped`}`],
  ];

  if (data.firstTime !== undefined && data.lastTime !== undefined) {
    rows.push(['time span', `${new Date(data.firstTime).toISOString()} to ${new Date(data.lastTime).toISOString()} (${formatNumber((data.lastTime - data.firstTime) / 1000)} s)`]);
  }
  rows.push(['step calls', `${data.calls.total}: ${data.calls.applied} applied, ${data.calls.skipped} skipped`]);
  if (session !== undefined) {
    rows.push(['objectives', session.objectives.length === 0 ? '(taken from each step)' : session.objectives.join(', ')]);
    rows.push(['plugins', session.plugins.length === 0 ? '(none)' : session.plugins.map((plugin) => (plugin.options['dryRun'] === true ? `${plugin.name} (dry run)` : plugin.name)).join(', ')]);
    rows.push(['level', session.level]);
  }

  for (const [objective, points] of data.losses) {
    rows.push([`last loss, ${objective}`, formatNumber(lastValue(points))]);
  }
  for (const [name, series] of data.metrics) {
    for (const [label, points] of series) {
      rows.push([`last ${name}, ${label}`, formatNumber(lastValue(points))]);
    }
  }
  for (const [plugin, series] of data.conflicts) {
    rows.push([`conflicting steps, ${plugin}`, `${formatPercent(overallRate(series.conflicted))} of ${series.conflicted.length} reported`]);
  }
  for (const [plugin, series] of data.clips) {
    rows.push([`clipped steps, ${plugin}`, `${formatPercent(overallRate(series.clipped))} of ${series.clipped.length} reported`]);
  }
  if (data.errors.length > 0) {
    rows.push(['errors', String(data.errors.length)]);
  }

  const counts = [...data.eventCounts].sort((a, b) => a[0].localeCompare(b[0])).map(([event, count]) => `${code(event)} ${count}`);
  const known = ['session', 'step', 'metric', 'conflict', 'projection', 'clip', 'skip', 'freeze', 'dryRun', 'state', 'error'];
  const missing = known.filter((event) => !data.eventCounts.has(event)).map(code);
  let body = table(null, rows);
  body += `\n<p>Events in this run: ${counts.length === 0 ? 'none' : counts.join(', ')}.`;
  body += missing.length === 0 ? '</p>' : ` Absent: ${missing.join(', ')}; their sections say so.</p>`;

  if (data.rejected.count > 0) {
    body += `\n<p class="warning">Skipped lines: ${data.rejected.examples.map(escapeHtml).join('; ')}${data.rejected.count > data.rejected.examples.length ? '; ...' : ''}</p>`;
  }
  if (data.sessions.length > 1) {
    body += `\n<p class="warning">The file holds ${data.sessions.length} sessions; the charts mix their events. Write each run to its own file.</p>`;
  }
  if (data.nonFinite.size > 0) {
    const list = [...data.nonFinite].map(([subject, count]) => `${escapeHtml(subject)} (${count})`).join(', ');
    body += `\n<p class="warning">Non-finite values, drawn as gaps: ${list}.</p>`;
  }
  return { id: 'summary', title: 'Summary', body, charts: [], present: true };
}

/** Builds the section on loss per objective from `step` events, and each metric the program published. */
export function trainingSection(context: SectionContext): Section {
  const { data } = context;
  const parts: string[] = [];
  const charts = [];
  if (data.losses.size > 0) {
    const { chart, bucket } = alignedChart(
      { id: context.chartId('loss'), xLabel: 'step', yLabel: 'loss' },
      [...data.losses].map(([objective, points]) => ({ label: objective, points })),
      context.maxPoints,
    );
    charts.push(chart);
    parts.push(figure(chart, `Training loss of each objective on reporting steps (${code('step')} events), as the optimizer step computed it.${bucketNote(bucket)}`));
  } else {
    parts.push(absent(`No ${code('step')} event carries losses, so there is no loss chart. Losses are reported on reporting steps (every ${code('telemetry.every')} steps).`));
  }
  for (const [name, series] of data.metrics) {
    const few = [...series.values()].every((points) => points.length <= 200);
    const shares = name.includes('accuracy') && [...series.values()].every((points) => points.every(([, value]) => value === null || (value >= 0 && value <= 1)));
    const { chart, bucket } = alignedChart(
      { id: context.chartId(`metric-${slug(name)}`), xLabel: 'step', yLabel: name, ...(shares ? { yRange: [0, 1] as [number, number] } : {}) },
      [...series].map(([label, points]) => ({ label, points, markers: few })),
      context.maxPoints,
    );
    charts.push(chart);
    parts.push(figure(chart, `Each objective's ${code(name)} on each data split, as the training program published it (${code('metric')} events).${bucketNote(bucket)}`));
  }
  if (data.metrics.size === 0) {
    parts.push(
      absent(
        `No ${code('metric')} events: the training program published no accuracy or other measurements. Publish them with ${code("optimizer.telemetry.publish('metric', { step, name, value, objective, split })")}.`,
      ),
    );
  }
  return { id: 'training', title: 'Loss and accuracy', body: parts.join('\n'), charts, present: data.losses.size > 0 || data.metrics.size > 0 };
}

/** Builds the section on the wall time of each step call and of each plugin's taps. */
export function timingSection(context: SectionContext): Section {
  const { data } = context;
  if (data.durations.length === 0) {
    return { id: 'timing', title: 'Time per step', body: absent(`No ${code('step')} events, so no step times.`), charts: [], present: false };
  }
  const { chart, bucket } = alignedChart(
    { id: context.chartId('timing'), xLabel: 'step call', yLabel: 'milliseconds' },
    [{ label: 'whole step', points: data.durations }, ...[...data.pluginMs].map(([plugin, points]) => ({ label: plugin, points }))],
    context.maxPoints,
  );
  return {
    id: 'timing',
    title: 'Time per step',
    body: figure(chart, `Wall time of each step call and the part spent in each plugin's taps (${code('durationMs')} and ${code('pluginMs')} of ${code('step')} events).${bucketNote(bucket, 'calls')}`),
    charts: [chart],
    present: true,
  };
}

/** Builds the table of errors that stopped a step. */
export function errorsSection(context: SectionContext): Section {
  const { errors } = context.data;
  if (errors.length === 0) {
    return { id: 'errors', title: 'Errors', body: absent(`No ${code('error')} events: no step failed.`), charts: [], present: false };
  }
  const rows = errors.map((error) => [error.step === undefined ? '' : String(error.step), error.plugin ?? '', error.hook ?? '', error.code ?? '', error.message]);
  return { id: 'errors', title: 'Errors', body: table(['step', 'plugin', 'hook', 'code', 'message'], rows, { numeric: [0] }), charts: [], present: true };
}

/** Builds the table of the resolved options of each plugin, from the `session` event. */
export function configSection(context: SectionContext): Section {
  const { sessions } = context.data;
  if (sessions.length === 0) {
    return {
      id: 'config',
      title: 'Resolved config',
      body: absent(`No ${code('session')} event, so the resolved config is unknown. A session publishes it before its first step.`),
      charts: [],
      present: false,
    };
  }
  const parts = sessions.map((session, i) => {
    const rows: string[][] = [
      ['(session)', 'level', session.level],
      ['(session)', 'objectives', session.objectives.length === 0 ? '(taken from each step)' : session.objectives.join(', ')],
    ];
    for (const plugin of session.plugins) {
      const entries = Object.entries(plugin.options);
      if (entries.length === 0) {
        rows.push([plugin.name, '(no options)', '']);
      }
      for (const [key, value] of entries) {
        rows.push([plugin.name, key, formatValue(value)]);
      }
    }
    const heading = sessions.length > 1 ? `<h3>Session ${i + 1}</h3>\n` : '';
    return `${heading}${table(['plugin', 'option', 'value'], rows)}`;
  });
  const note = '<p>Every option after defaults, in the order the session installed the plugins; taps run in stage order.</p>';
  return { id: 'config', title: 'Resolved config', body: `${note}\n${parts.join('\n')}`, charts: [], present: true };
}

function lastValue(points: readonly Point[]): number | undefined {
  for (let i = points.length - 1; i >= 0; i--) {
    const value = points[i]![1];
    if (value !== null) {
      return value;
    }
  }
  return undefined;
}
