import type { Point, RunData } from './runData.js';

type Fields = Record<string, unknown>;

const MAX_REJECTED_EXAMPLES = 5;

/**
 * Reads a number from a telemetry field. The JSONL sink writes NaN and
 * ±Infinity as the strings "NaN", "Infinity" and "-Infinity".
 */
export function readNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return value;
  }
  if (value === 'NaN') {
    return Number.NaN;
  }
  if (value === 'Infinity') {
    return Number.POSITIVE_INFINITY;
  }
  if (value === '-Infinity') {
    return Number.NEGATIVE_INFINITY;
  }
  return undefined;
}

/** Parses one JSONL line and adds its event to `data`. Blank lines are counted and ignored. */
export function collectLine(data: RunData, line: string): void {
  data.lines += 1;
  if (line.trim() === '') {
    return;
  }
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (error) {
    reject(data, `line ${data.lines}: invalid JSON (${(error as Error).message.split('\n')[0]})`);
    return;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record) || typeof (record as Fields)['event'] !== 'string') {
    reject(data, `line ${data.lines}: not an object with an "event" name`);
    return;
  }
  const problem = collectEvent(data, record as Fields);
  if (problem !== undefined) {
    reject(data, `line ${data.lines}: ${problem}`);
  }
}

function reject(data: RunData, reason: string): void {
  data.rejected.count += 1;
  if (data.rejected.examples.length < MAX_REJECTED_EXAMPLES) {
    data.rejected.examples.push(reason);
  }
}

/** Adds one event to `data`; returns why it was rejected, or undefined when it was accepted. */
export function collectEvent(data: RunData, record: Fields): string | undefined {
  const event = record['event'] as string;
  const step = readNumber(record['step']);
  const plugin = typeof record['plugin'] === 'string' ? record['plugin'] : undefined;
  if (event !== 'session' && event !== 'error' && (step === undefined || !Number.isFinite(step))) {
    return `${event} event without a numeric step`;
  }
  data.events += 1;
  data.eventCounts.set(event, (data.eventCounts.get(event) ?? 0) + 1);
  const time = readNumber(record['time']);
  if (time !== undefined && Number.isFinite(time)) {
    data.firstTime = data.firstTime === undefined ? time : Math.min(data.firstTime, time);
    data.lastTime = data.lastTime === undefined ? time : Math.max(data.lastTime, time);
  }
  const at = step ?? 0;
  switch (event) {
    case 'session':
      collectSession(data, record);
      break;
    case 'step':
      collectStep(data, record, at);
      break;
    case 'metric':
      collectMetric(data, record, at);
      break;
    case 'conflict':
      collectConflict(data, record, at, plugin ?? '(unnamed plugin)');
      break;
    case 'projection':
      collectProjection(data, record, plugin ?? '(unnamed plugin)');
      break;
    case 'clip':
      collectClip(data, record, at, plugin ?? '(unnamed plugin)');
      break;
    case 'skip':
      data.skips.push({ step: at, plugin, reason: typeof record['reason'] === 'string' ? record['reason'] : '(no reason given)' });
      break;
    case 'freeze':
      collectFreeze(data, record, at, plugin);
      break;
    case 'dryRun':
      collectDryRun(data, record, at, plugin ?? '(unnamed plugin)');
      break;
    case 'state':
      collectState(data, record, at, plugin ?? '(unnamed plugin)');
      break;
    case 'error':
      data.errors.push({
        step: step !== undefined && Number.isFinite(step) ? step : undefined,
        plugin,
        hook: typeof record['hook'] === 'string' ? record['hook'] : undefined,
        code: typeof record['code'] === 'string' ? record['code'] : undefined,
        message: typeof record['message'] === 'string' ? record['message'] : '(no message)',
      });
      break;
    default:
      // Events that third-party plugins add are counted in eventCounts and listed in the report.
      break;
  }
  return undefined;
}

/** Returns `value` when finite; otherwise counts it under `subject` and returns null, which charts draw as a gap. */
function finiteOrNull(data: RunData, subject: string, value: number | undefined): number | null {
  if (value !== undefined && Number.isFinite(value)) {
    return value;
  }
  if (value !== undefined) {
    data.nonFinite.set(subject, (data.nonFinite.get(subject) ?? 0) + 1);
  }
  return null;
}

function push(map: Map<string, Point[]>, key: string, point: Point): void {
  let points = map.get(key);
  if (points === undefined) {
    points = [];
    map.set(key, points);
  }
  points.push(point);
}

function collectSession(data: RunData, record: Fields): void {
  const plugins = Array.isArray(record['plugins']) ? record['plugins'] : [];
  data.sessions.push({
    plugins: plugins
      .filter((entry): entry is Fields => entry !== null && typeof entry === 'object')
      .map((entry) => ({
        name: typeof entry['name'] === 'string' ? entry['name'] : '(unnamed plugin)',
        options: entry['options'] !== null && typeof entry['options'] === 'object' ? (entry['options'] as Record<string, unknown>) : {},
      })),
    objectives: Array.isArray(record['objectives']) ? record['objectives'].map(String) : [],
    level: typeof record['level'] === 'string' ? record['level'] : 'parameter',
  });
}

function collectStep(data: RunData, record: Fields, step: number): void {
  const call = readNumber(record['call']) ?? data.calls.total + 1;
  const applied = record['applied'] === true;
  data.calls.total += 1;
  if (applied) {
    data.calls.applied += 1;
  } else {
    data.calls.skipped += 1;
  }
  data.applied.push([call, applied ? 1 : 0]);
  data.durations.push([call, finiteOrNull(data, 'step duration', readNumber(record['durationMs']))]);
  const pluginMs = record['pluginMs'];
  if (pluginMs !== null && typeof pluginMs === 'object') {
    for (const [name, value] of Object.entries(pluginMs as Fields)) {
      push(data.pluginMs, name, [call, finiteOrNull(data, 'plugin time', readNumber(value))]);
    }
  }
  const losses = record['losses'];
  if (losses !== null && typeof losses === 'object') {
    for (const [objective, value] of Object.entries(losses as Fields)) {
      push(data.losses, objective, [step, finiteOrNull(data, `loss of ${objective}`, readNumber(value))]);
    }
  }
}

function collectMetric(data: RunData, record: Fields, step: number): void {
  const name = typeof record['name'] === 'string' ? record['name'] : 'metric';
  const objective = typeof record['objective'] === 'string' ? record['objective'] : undefined;
  const split = typeof record['split'] === 'string' ? record['split'] : undefined;
  const label = [objective ?? 'all objectives', split].filter((part) => part !== undefined).join(', ');
  let series = data.metrics.get(name);
  if (series === undefined) {
    series = new Map();
    data.metrics.set(name, series);
  }
  push(series, label, [step, finiteOrNull(data, name, readNumber(record['value']))]);
}

function collectConflict(data: RunData, record: Fields, step: number, plugin: string): void {
  const objectives = Array.isArray(record['objectives']) ? record['objectives'].map(String) : [];
  let series = data.conflicts.get(plugin);
  if (series === undefined) {
    series = { objectives, cosines: new Map(), conflicted: [], weights: new Map() };
    data.conflicts.set(plugin, series);
  }
  const cosines = Array.isArray(record['cosines']) ? (record['cosines'] as unknown[]) : [];
  for (let i = 0; i < objectives.length; i++) {
    const row = Array.isArray(cosines[i]) ? (cosines[i] as unknown[]) : [];
    for (let j = i + 1; j < objectives.length; j++) {
      push(series.cosines, `${objectives[i]} · ${objectives[j]}`, [step, finiteOrNull(data, 'cosine', readNumber(row[j]))]);
    }
  }
  const conflicts = readNumber(record['conflicts']);
  if (conflicts !== undefined) {
    series.conflicted.push([step, conflicts > 0 ? 1 : 0]);
  }
  const weights = Array.isArray(record['weights']) ? (record['weights'] as unknown[]) : undefined;
  weights?.forEach((value, k) => {
    push(series.weights, objectives[k] ?? `objective ${k}`, [step, finiteOrNull(data, 'aggregator weight', readNumber(value))]);
  });
}

function collectProjection(data: RunData, record: Fields, plugin: string): void {
  const pair = `${String(record['objective'])} onto ${String(record['onto'])}`;
  let pairs = data.projections.get(plugin);
  if (pairs === undefined) {
    pairs = new Map();
    data.projections.set(plugin, pairs);
  }
  const entry = pairs.get(pair) ?? { count: 0, coefficientSum: 0 };
  const coefficient = readNumber(record['coefficient']);
  entry.count += 1;
  entry.coefficientSum += coefficient !== undefined && Number.isFinite(coefficient) ? coefficient : 0;
  pairs.set(pair, entry);
}

function collectClip(data: RunData, record: Fields, step: number, plugin: string): void {
  let series = data.clips.get(plugin);
  if (series === undefined) {
    series = { normBefore: [], normAfter: [], clipped: [], nonFiniteSteps: 0 };
    data.clips.set(plugin, series);
  }
  series.normBefore.push([step, finiteOrNull(data, `norm before ${plugin}`, readNumber(record['normBefore']))]);
  series.normAfter.push([step, finiteOrNull(data, `norm after ${plugin}`, readNumber(record['normAfter']))]);
  series.clipped.push([step, record['clipped'] === true ? 1 : 0]);
  if (record['nonFiniteDetected'] === true) {
    series.nonFiniteSteps += 1;
  }
}

function collectFreeze(data: RunData, record: Fields, step: number, plugin: string | undefined): void {
  if (plugin !== undefined) {
    data.freezes.plugins.add(plugin);
  }
  data.freezes.records.push({
    step,
    layer: typeof record['layer'] === 'string' ? record['layer'] : '(unnamed layer)',
    disorder: finiteOrNull(data, 'disorder', readNumber(record['disorder'])),
    frozen: record['frozen'] === true,
  });
}

function collectDryRun(data: RunData, record: Fields, step: number, plugin: string): void {
  const hook = typeof record['hook'] === 'string' ? record['hook'] : '(unknown hook)';
  const key = `${plugin}\u0000${hook}`;
  let series = data.dryRuns.get(key);
  if (series === undefined) {
    series = { plugin, hook, relativeChange: [], wouldSkip: new Map() };
    data.dryRuns.set(key, series);
  }
  const change = readNumber(record['relativeChange']);
  if (change !== undefined) {
    series.relativeChange.push([step, finiteOrNull(data, `relative change of ${plugin}`, change)]);
  }
  if (typeof record['wouldSkip'] === 'string') {
    series.wouldSkip.set(record['wouldSkip'], (series.wouldSkip.get(record['wouldSkip']) ?? 0) + 1);
  }
}

function collectState(data: RunData, record: Fields, step: number, plugin: string): void {
  const values = record['values'];
  if (values === null || typeof values !== 'object') {
    return;
  }
  let state = data.states.get(plugin);
  if (state === undefined) {
    state = { numbers: new Map(), texts: new Map() };
    data.states.set(plugin, state);
  }
  for (const [key, value] of Object.entries(values as Fields)) {
    const number = typeof value === 'boolean' ? Number(value) : readNumber(value);
    if (number !== undefined) {
      push(state.numbers, key, [step, finiteOrNull(data, `${plugin} ${key}`, number)]);
    } else {
      state.texts.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
  }
}
