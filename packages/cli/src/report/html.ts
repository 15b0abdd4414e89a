import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

import type { ChartSpec } from './charts.js';
import { escapeHtml } from './format.js';
import type { Section } from './format.js';
import type { RunData } from './runData.js';
import { createSectionContext } from './sections/context.js';
import { clippingSection, conflictSection, dryRunSection, skipsSection, weightsSection } from './sections/gradients.js';
import { freezeSection, otherEventsSection, stateSection } from './sections/plugins.js';
import { configSection, errorsSection, summarySection, timingSection, trainingSection } from './sections/training.js';

/** Maximum points a chart draws by default; uPlot draws this many per series in a few milliseconds. */
export const DEFAULT_MAX_POINTS = 4000;

/** Options of `renderReport`. */
export interface RenderOptions {
  /** Name of the telemetry file, shown in the header. */
  source: string;
  /** Page title; defaults to the telemetry file name. */
  title?: string;
  /** Maximum points per chart; longer series are averaged over buckets (default `DEFAULT_MAX_POINTS`). */
  maxPoints?: number;
  /** Time shown as the build time (default now). */
  builtAt?: Date;
}

/** A rendered report. */
export interface RenderedReport {
  html: string;
  sections: Section[];
  charts: ChartSpec[];
}

const EVENTS_DRAWN = new Set(['session', 'step', 'metric', 'conflict', 'projection', 'clip', 'skip', 'freeze', 'dryRun', 'state', 'error']);

/**
 * Renders one self-contained HTML page from a run's telemetry: uPlot, its
 * styles, the page's script and the chart data are all inline, and the
 * page's content security policy forbids loading anything else.
 */
export async function renderReport(data: RunData, options: RenderOptions): Promise<RenderedReport> {
  const context = createSectionContext(data, options.maxPoints ?? DEFAULT_MAX_POINTS);
  const sections = [
    summarySection(context, options.source),
    trainingSection(context),
    conflictSection(context),
    weightsSection(context),
    clippingSection(context),
    skipsSection(context),
    freezeSection(context),
    dryRunSection(context),
    stateSection(context),
    timingSection(context),
    errorsSection(context),
    otherEventsSection(context, EVENTS_DRAWN),
    configSection(context),
  ].filter((section): section is Section => section !== undefined);
  const charts = sections.flatMap((section) => section.charts);
  const assets = await loadAssets();
  const title = options.title ?? `gradhooks report: ${options.source}`;
  const builtAt = (options.builtAt ?? new Date()).toISOString();
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="gradhooks report">
<title>${escapeHtml(title)}</title>
<style>
/* uPlot ${assets.uplotVersion}, MIT license, https://github.com/leeoniya/uPlot */
${assets.uplotCss}
</style>
<style>
${assets.reportCss}
</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="source">Built from <code>${escapeHtml(options.source)}</code> at ${escapeHtml(builtAt)}. Drag across a chart to zoom, double-click to zoom out, click a legend entry to hide its line.</p>
<nav>${navigation(sections)}</nav>
</header>
<main>
${sections.map(renderSection).join('\n')}
</main>
<script type="application/json" id="report-data">${jsonForScript({ charts })}</script>
<script>
${assets.uplotJs}
</script>
<script>
${assets.reportJs}
</script>
</body>
</html>
`;
  return { html, sections, charts };
}

function navigation(sections: readonly Section[]): string {
  const links = sections.map((section) => {
    const state = section.present ? '' : ' class="absent" title="not in this run"';
    return `<a href="#${escapeHtml(section.id)}"${state}>${escapeHtml(section.title)}</a>`;
  });
  return links.join('\n');
}

function renderSection(section: Section): string {
  const state = section.present ? '' : ' data-absent="true"';
  return `<section id="${escapeHtml(section.id)}"${state}>\n<h2>${escapeHtml(section.title)}</h2>\n${section.body}\n</section>`;
}

/** Serializes data for a script element: `<` is escaped, so no string inside can close the element. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

interface Assets {
  uplotVersion: string;
  uplotJs: string;
  uplotCss: string;
  reportJs: string;
  reportCss: string;
}

let cachedAssets: Promise<Assets> | undefined;

/** Reads uPlot's minified browser build and styles from its package, and the report's own script and styles. */
function loadAssets(): Promise<Assets> {
  cachedAssets ??= (async () => {
    const require = createRequire(import.meta.url);
    const uplotPackage = JSON.parse(await readFile(require.resolve('uplot/package.json'), 'utf8')) as { version: string };
    const [uplotJs, uplotCss, reportJs, reportCss] = await Promise.all([
      readFile(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
      readFile(new URL('./assets/report.js', import.meta.url), 'utf8'),
      readFile(new URL('./assets/report.css', import.meta.url), 'utf8'),
    ]);
    for (const [name, text] of [['uPlot', uplotJs], ['report.js', reportJs]] as const) {
      if (/<\/script/i.test(text)) {
        throw new Error(`${name} contains "</script", which would end its inline script element early.`);
      }
    }
    return { uplotVersion: uplotPackage.version, uplotJs, uplotCss, reportJs, reportCss };
  })();
  return cachedAssets;
}
