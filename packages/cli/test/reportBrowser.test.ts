import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildReport } from '../src/commands/report.js';
import { repositoryRoot } from './helpers.js';
import { syntheticRun } from './syntheticRun.js';

/** Debian's Chromium; the test downloads no browser of its own. */
const CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for a headless Chromium on a machine without network access: the
 * background-networking, sync and component-update flags stop its attempts
 * to reach Google's hosts.
 */
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Screenshots and the pages they show are kept here for people to look at (the folder is git-ignored). */
const artifacts = join(repositoryRoot, 'test-artifacts', 'report');

// page.evaluate runs its callback in the browser. The project compiles without the DOM library, so
// the part of `document` the callbacks use is declared here, for this file only.
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { data: ArrayLike<number> } } | null;
}
interface PageElement {
  id: string;
  textContent: string | null;
  querySelector(selector: string): PageCanvas | null;
}
declare const document: {
  documentElement: { dataset: Record<string, string | undefined> };
  getElementById(id: string): PageElement | null;
  querySelectorAll(selector: string): Iterable<PageElement>;
};

let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The report's browser test needs Debian's Chromium at ${CHROMIUM}, which is missing. Install it with: apt-get install chromium`);
  }
  mkdirSync(artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
});

afterAll(async () => {
  await browser?.close();
});

interface PageCheck {
  consoleErrors: string[];
  requests: string[];
  expected: number;
  drawn: number;
  /** Per chart: its id, canvas size, and how many pixels have its first line's color. */
  charts: Array<{ id: string; width: number; height: number; colored: number }>;
  absentSections: string[];
}

/** Opens a report, waits until its charts are drawn, inspects every chart's canvas and saves a full-page screenshot. */
async function openReport(file: string, screenshot: string): Promise<PageCheck> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(message.text());
    }
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  page.on('request', (request) => requests.push(request.url()));
  try {
    await page.goto(pathToFileURL(file).href);
    await page.waitForFunction(() => {
      const root = document.documentElement.dataset;
      return root['chartsExpected'] !== undefined && (root['chartsExpected'] === '0' || root['chartsDrawn'] === root['chartsExpected']);
    }, null, { timeout: 20_000 });
    const result = await page.evaluate(() => {
      const specs = (JSON.parse(document.getElementById('report-data')!.textContent!) as { charts: Array<{ id: string; series: Array<{ color: string }> }> }).charts;
      const charts = specs.map((spec) => {
        const element = document.getElementById(`chart-${spec.id}`)!;
        const canvas = element.querySelector('canvas');
        if (canvas === null) {
          return { id: spec.id, width: 0, height: 0, colored: 0 };
        }
        const color = spec.series[0]!.color;
        const target = [1, 3, 5].map((offset) => parseInt(color.slice(offset, offset + 2), 16));
        const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let colored = 0;
        for (let i = 0; i < pixels.length; i += 4) {
          if (pixels[i + 3]! > 200 && target.every((channel, c) => Math.abs(pixels[i + c]! - channel) <= 12)) {
            colored += 1;
          }
        }
        return { id: spec.id, width: canvas.width, height: canvas.height, colored };
      });
      const root = document.documentElement.dataset;
      return {
        expected: Number(root['chartsExpected']),
        drawn: Number(root['chartsDrawn'] ?? 0),
        charts,
        absentSections: [...document.querySelectorAll('section[data-absent="true"]')].map((section) => section.id),
      };
    });
    await page.screenshot({ path: screenshot, fullPage: true });
    return { consoleErrors, requests, ...result };
  } finally {
    await page.close();
  }
}

describe('report in Chromium', () => {
  it('draws every chart of a full run', async () => {
    const input = join(artifacts, 'full-run.jsonl');
    syntheticRun(input, 3000);
    const { output } = await buildReport(input, { output: join(artifacts, 'full-run.html') });

    const check = await openReport(output, join(artifacts, 'full-run.png'));

    expect(check.consoleErrors).toEqual([]);
    expect(check.requests).toEqual([pathToFileURL(output).href]);
    expect(check.expected).toBe(12);
    expect(check.drawn).toBe(12);
    for (const chart of check.charts) {
      expect(chart.width, `${chart.id} canvas width`).toBeGreaterThan(300);
      expect(chart.height, `${chart.id} canvas height`).toBeGreaterThan(100);
      // A drawn line of the first series colors at least a few dozen pixels.
      expect(chart.colored, `${chart.id} pixels of its first line's color`).toBeGreaterThan(30);
    }
    expect(check.absentSections).toEqual([]);
  });

  it('shows a run with few event kinds without errors', async () => {
    const input = join(artifacts, 'steps-only.jsonl');
    syntheticRun(input, 200, ['step']);
    const { output } = await buildReport(input, { output: join(artifacts, 'steps-only.html') });

    const check = await openReport(output, join(artifacts, 'steps-only.png'));

    expect(check.consoleErrors).toEqual([]);
    expect(check.requests).toEqual([pathToFileURL(output).href]);
    expect(check.charts.map((chart) => chart.id)).toEqual(['loss', 'skips', 'timing']);
    expect(check.drawn).toBe(3);
    for (const chart of check.charts) {
      expect(chart.colored, `${chart.id} pixels of its first line's color`).toBeGreaterThan(30);
    }
    expect(check.absentSections).toEqual(['conflicts', 'weights', 'clipping', 'frozen-layers', 'dry-runs', 'plugin-state', 'errors', 'config']);
  });
});
