import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { buildReport } from '../src/commands/report.js';
import { CliError } from '../src/errors.js';
import { renderReport } from '../src/report/html.js';
import { readRun } from '../src/report/readRun.js';
import { temporaryFolder } from './helpers.js';
import { syntheticRun } from './syntheticRun.js';

const folder = temporaryFolder('report');
afterAll(() => folder.remove());

/** Returns the chart specs embedded in a report page. */
function embeddedCharts(html: string): Array<{ id: string; x: number[]; series: Array<{ label: string; values: Array<number | null> }> }> {
  const match = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  return (JSON.parse(match![1]!) as { charts: [] }).charts;
}

describe('report of a full run', () => {
  const input = join(folder.path, 'full.jsonl');
  const lines = syntheticRun(input, 600);

  it('has every section and chart', async () => {
    const result = await buildReport(input);

    expect(result.output).toBe(join(folder.path, 'full.html'));
    expect(result.events).toBe(lines);
    expect(result.sections.map((section) => [section.id, section.present])).toEqual([
      ['summary', true],
      ['training', true],
      ['conflicts', true],
      ['weights', true],
      ['clipping', true],
      ['skips', true],
      ['frozen-layers', true],
      ['dry-runs', true],
      ['plugin-state', true],
      ['timing', true],
      ['errors', true],
      ['other-events', true],
      ['config', true],
    ]);
    const html = readFileSync(result.output, 'utf8');
    const ids = embeddedCharts(html).map((chart) => chart.id);
    expect(ids).toEqual(['loss', 'metric-accuracy', 'cosines-pcgrad', 'conflict-rate-pcgrad', 'weights-pcgrad', 'clip-clip-global-norm', 'skips', 'frozen', 'dry-run-change', 'state-gradhooks-plugin-gradient-noise-noisestep', 'state-gradhooks-plugin-gradient-noise-variance', 'timing']);
    for (const id of ids) {
      expect(html).toContain(`data-chart="${id}"`);
    }
  });

  it('is self-contained', async () => {
    const { output } = await buildReport(input, { output: join(folder.path, 'self-contained.html') });
    const html = readFileSync(output, 'utf8');

    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">`);
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link\b/);
    expect(html).not.toMatch(/@import|url\(\s*['"]?https?:/);
    expect(html).toContain('var uPlot=function');
  });

  it('resolved config table lists every option', async () => {
    const { output } = await buildReport(input, { output: join(folder.path, 'config.html') });
    const html = readFileSync(output, 'utf8');

    expect(html).toContain('<td>clip-global-norm</td><td>maxNorm</td><td>4</td>');
    expect(html).toContain('<td>pcgrad</td><td>variables</td><td>[&quot;shared*/**&quot;]</td>');
    expect(html).toContain('<td>gradhooks-plugin-gradient-noise</td><td>dryRun</td><td>true</td>');
    expect(html).toContain('gradhooks-plugin-gradient-noise (dry run)');
  });

  it('numbers match the events', async () => {
    const data = await readRun(input);
    const { charts } = await renderReport(data, { source: 'full.jsonl' });
    const byId = new Map(charts.map((chart) => [chart.id, chart]));

    // One call in 97 is an extra skipped call: 600 applied steps need 606 calls.
    expect(data.calls).toEqual({ total: 606, applied: 600, skipped: 6 });
    expect(data.skips).toHaveLength(6);
    expect(byId.get('skips')!.series[0]!.values.at(-1)).toBe(6);
    expect(byId.get('loss')!.x).toHaveLength(600);
    expect(byId.get('loss')!.series[0]!.values[0]).toBe(2.4);
    // The norm of step 10 is "Infinity" in the file: a gap in the chart, counted in the summary.
    const clip = byId.get('clip-clip-global-norm')!;
    expect(clip.series[0]!.values[10]).toBeNull();
    expect(data.nonFinite.get('norm before clip-global-norm')).toBe(1);
    expect(clip.yLog).toBe(true);
    const accuracy = byId.get('metric-accuracy')!;
    expect(accuracy.series.map((series) => series.label)).toEqual(['left, test', 'right, test']);
    expect(accuracy.x).toEqual([100, 200, 300, 400, 500, 600]);
    expect(data.freezes.records).toHaveLength(11 * 6);
  });
});

describe('report of a partial run', () => {
  it('says which events are absent', async () => {
    const input = join(folder.path, 'steps-only.jsonl');
    syntheticRun(input, 50, ['step']);
    const result = await buildReport(input);
    const html = readFileSync(result.output, 'utf8');

    expect(result.sections.filter((section) => section.present).map((section) => section.id)).toEqual(['summary', 'training', 'timing']);
    expect(html).toContain('No <code>skip</code> events: no step was skipped. All 50 step calls applied an update.');
    expect(html).toContain('No <code>conflict</code> events: no aggregator reported');
    expect(html).toContain('No <code>clip</code> events: no clipping plugin ran');
    expect(html).toContain('No <code>freeze</code> events: the gaqat plugin did not run');
    expect(html).toContain('No <code>dryRun</code> events: no plugin ran with the option dryRun: true.');
    expect(html).toContain('No <code>metric</code> events');
    expect(html).toContain('No <code>session</code> event, so the resolved config is unknown.');
    expect(html).toContain('<a href="#clipping" class="absent" title="not in this run">Clipping</a>');
    expect(embeddedCharts(html).map((chart) => chart.id)).toEqual(['loss', 'timing']);
  });

  it('skips lines that are not events', async () => {
    const input = join(folder.path, 'damaged.jsonl');
    syntheticRun(input, 20, ['step', 'clip']);
    const text = readFileSync(input, 'utf8');
    writeFileSync(input, `${text}not json\n[1, 2]\n{"event":"clip","plugin":"x"}\n{"event":"step","step":20,"call":21,"appl`);
    const data = await readRun(input);
    const { html } = await renderReport(data, { source: 'damaged.jsonl' });

    expect(data.rejected.count).toBe(4);
    expect(data.rejected.examples[0]).toMatch(/^line 41: invalid JSON/);
    expect(data.rejected.examples[1]).toBe('line 42: not an object with an "event" name');
    expect(data.rejected.examples[2]).toBe('line 43: clip event without a numeric step');
    expect(data.events).toBe(40);
    expect(html).toContain('4 line(s) skipped');
  });

  it('rejects a file without events', async () => {
    const input = join(folder.path, 'empty.jsonl');
    writeFileSync(input, '\n\n');

    await expect(buildReport(input)).rejects.toThrow(CliError);
    await expect(buildReport(input)).rejects.toThrow(/contains no telemetry events/);
    await expect(buildReport(join(folder.path, 'missing.jsonl'))).rejects.toThrow(/Cannot read .*missing\.jsonl: ENOENT/);
  });
});

describe('report escaping', () => {
  it('escapes names and cannot close its data script', async () => {
    const input = join(folder.path, 'hostile.jsonl');
    const lines = [
      { event: 'session', plugins: [{ name: '<img src=x onerror=alert(1)>', options: { note: '</script><script>alert(2)</script>' } }], objectives: ['a&b'], level: 'parameter' },
      { event: 'skip', step: 0, plugin: 'p', reason: '</script><b>bold</b>' },
      { event: 'step', step: 0, call: 1, applied: false, objectives: ['a&b'], losses: { '</script>': 1 }, durationMs: 1, pluginMs: {} },
    ];
    writeFileSync(input, lines.map((line) => JSON.stringify(line)).join('\n'));
    const { output } = await buildReport(input);
    const html = readFileSync(output, 'utf8');

    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;');
    const data = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!;
    expect(data).toContain('\\u003c/script>');
    expect(html.match(/<script/g)).toHaveLength(3);
  });
});

describe('report of a long run', () => {
  it('averages 20,000 steps into buckets quickly', async () => {
    const input = join(folder.path, 'long.jsonl');
    syntheticRun(input, 20_000);
    const started = performance.now();
    const result = await buildReport(input, { maxPoints: 2000 });
    const seconds = (performance.now() - started) / 1000;
    const html = readFileSync(result.output, 'utf8');
    const charts = embeddedCharts(html);

    for (const chart of charts) {
      expect(chart.x.length).toBeLessThanOrEqual(2000);
    }
    expect(charts.find((chart) => chart.id === 'loss')!.x).toHaveLength(2000);
    expect(html).toContain('Each point is the mean over up to 10 consecutive steps.');
    // About 2 s on a shared 2-core machine for some 120,000 events; the bound leaves room for a slow CI runner.
    expect(seconds).toBeLessThan(20);
    expect(result.bytes).toBeLessThan(2_000_000);
  });
});
