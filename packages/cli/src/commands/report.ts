import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, resolve as resolvePath } from 'node:path';

import { CliError } from '../errors.js';
import { renderReport } from '../report/html.js';
import { readRun } from '../report/readRun.js';

/** Options of `buildReport`. */
export interface ReportOptions {
  /** HTML file to write; defaults to the telemetry file with `.html` in place of `.jsonl`. */
  output?: string;
  /** Page title; defaults to one naming the telemetry file. */
  title?: string;
  /** Maximum points per chart; longer series are averaged over buckets. */
  maxPoints?: number;
}

/** Summary of the file `buildReport` wrote. */
export interface ReportResult {
  /** Absolute path of the HTML file. */
  output: string;
  /** Size of the HTML file in bytes. */
  bytes: number;
  /** Telemetry events read. */
  events: number;
  /** Each section, and whether the run had events for it. */
  sections: Array<{ id: string; title: string; present: boolean }>;
  /** Number of charts on the page. */
  charts: number;
}

/**
 * Builds the HTML report of one run from its telemetry JSONL file and writes
 * it. Raises a `CliError` when the file cannot be read or contains no event.
 */
export async function buildReport(input: string, options: ReportOptions = {}): Promise<ReportResult> {
  const source = resolvePath(input);
  const output = resolvePath(options.output ?? defaultOutput(source));
  if (output === source) {
    throw new CliError(`The report would overwrite its own input ${source}. Choose another file with --output.`);
  }
  const data = await readRun(source);
  if (data.events === 0) {
    const rejected = data.rejected.count === 0 ? '' : ` (${data.rejected.count} line(s) were not events: ${data.rejected.examples[0]})`;
    throw new CliError(`${source} contains no telemetry events${rejected}. Give the JSONL file that createJsonlSink or the config's telemetry.jsonl wrote.`);
  }
  const rendered = await renderReport(data, {
    source: basename(source),
    ...(options.title === undefined ? {} : { title: options.title }),
    ...(options.maxPoints === undefined ? {} : { maxPoints: options.maxPoints }),
  });
  if (!existsSync(dirname(output))) {
    throw new CliError(`The folder ${dirname(output)} of the report does not exist. Create it, or choose another file with --output.`);
  }
  await writeFile(output, rendered.html);
  return {
    output,
    bytes: Buffer.byteLength(rendered.html),
    events: data.events,
    sections: rendered.sections.map((section) => ({ id: section.id, title: section.title, present: section.present })),
    charts: rendered.charts.length,
  };
}

function defaultOutput(source: string): string {
  return source.endsWith('.jsonl') ? `${source.slice(0, -'.jsonl'.length)}.html` : `${source}.html`;
}
