import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import type { Telemetry, TelemetryEventName } from '../telemetry.js';

/** A telemetry sink that writes one JSON object per line. */
export interface JsonlSink {
  readonly path: string;
  /** Number of events written so far. */
  readonly written: number;
  /** Stops listening and flushes the file. */
  close(): Promise<void>;
}

/** JSON replacer that keeps NaN and ±Infinity as the strings "NaN", "Infinity" and "-Infinity". */
function keepNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return String(value);
  }
  return value;
}

/**
 * Writes the session's telemetry to a JSONL file, one event per line:
 * `{"event": "...", "time": <ms since epoch>, ...payload}`. Creates the
 * folder, truncates an existing file. `events` limits what is written.
 */
export function createJsonlSink(telemetry: Telemetry, path: string, options: { events?: readonly TelemetryEventName[] } = {}): JsonlSink {
  mkdirSync(dirname(path), { recursive: true });
  const stream = createWriteStream(path, { flags: 'w' });
  const wanted = options.events === undefined ? undefined : new Set<string>(options.events);
  let written = 0;
  let streamError: Error | undefined;
  stream.on('error', (error) => {
    streamError = error;
  });
  const unsubscribe = telemetry.onAny((event, payload) => {
    if (wanted !== undefined && !wanted.has(event)) {
      return;
    }
    stream.write(`${JSON.stringify({ event, time: Date.now(), ...payload }, keepNonFinite)}\n`);
    written += 1;
  });
  return {
    path,
    get written() {
      return written;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        unsubscribe();
        stream.end(() => (streamError === undefined ? resolve() : reject(streamError)));
      }),
  };
}
