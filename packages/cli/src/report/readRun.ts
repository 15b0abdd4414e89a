import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

import { CliError } from '../errors.js';
import { collectLine } from './collect.js';
import { emptyRunData } from './runData.js';
import type { RunData } from './runData.js';

/**
 * Reads a telemetry JSONL file line by line, as `createJsonlSink` writes it,
 * into the facts the report needs. Lines that are not events (a line cut
 * short when a run was killed, say) are counted and skipped.
 */
export async function readRun(path: string): Promise<RunData> {
  const data = emptyRunData();
  const stream = createReadStream(path, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new CliError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Give the JSONL file that the run's telemetry.jsonl setting names.`, {
      cause: error,
    });
  }
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    collectLine(data, line);
  }
  return data;
}
