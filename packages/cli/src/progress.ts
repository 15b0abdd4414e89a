import cliProgress from 'cli-progress';

import type { Telemetry } from '@gradhooks/core';

/** Telemetry highlights of the current epoch, as the progress display shows them. */
export interface Highlights {
  /** Reported steps this epoch with a `conflict` event, and how many had a conflicting pair. */
  conflicts: { reported: number; conflicting: number };
  /** `clip` events this epoch, and how many clipped. */
  clips: { reported: number; clipped: number };
  /** Skipped step calls since training began. */
  skipped: number;
  /** GAQAT layers frozen now, of those decided at least once; undefined before any `freeze` event. */
  frozen: { frozen: number; tracked: number } | undefined;
  /** Failed steps since training began. */
  errors: number;
}

/** Options of `createProgressDisplay`. */
export interface ProgressOptions {
  epochs: number;
  /** Batches per epoch, the length of the bar for one epoch. */
  stepsPerEpoch: number;
  /** Name shown in front of the bar, such as the run's name. */
  label?: string;
  /** Output stream (default `process.stdout`). */
  stream?: NodeJS.WriteStream;
  /**
   * Behavior when `stream` is not a terminal: `off` (default) prints
   * nothing, and `epoch-lines` prints one plain line per epoch, for logs.
   */
  whenNotTerminal?: 'off' | 'epoch-lines';
}

/** Logs that tfjs passes to fit callbacks. */
export type FitLogs = Record<string, number | undefined>;

/** `model.fit` callbacks, structurally the `CustomCallbackArgs` of tfjs-layers. */
export interface FitCallbacks {
  onTrainBegin: (logs?: FitLogs) => Promise<void>;
  onEpochBegin: (epoch: number, logs?: FitLogs) => Promise<void>;
  onBatchEnd: (batch: number, logs?: FitLogs) => Promise<void>;
  onEpochEnd: (epoch: number, logs?: FitLogs) => Promise<void>;
  onTrainEnd: (logs?: FitLogs) => Promise<void>;
}

/** A progress display for one `model.fit` run. */
export interface ProgressDisplay {
  /** `bar` in a terminal; otherwise `epoch-lines` or `off`, as `whenNotTerminal` sets. */
  readonly mode: 'bar' | 'epoch-lines' | 'off';
  /** Pass as `model.fit(x, y, { callbacks })`. */
  readonly callbacks: FitCallbacks;
  /** The highlights as they stand. */
  highlights(): Highlights;
  /** Stops listening to telemetry and ends the bar; `onTrainEnd` calls it too, and later calls do nothing. */
  stop(): void;
}

/**
 * Creates a console progress display for `model.fit`: in a terminal, a bar
 * with the epoch, the step, the batch loss and the latest telemetry
 * highlights of `optimizer` (conflict rate, clip rate, skipped steps, frozen
 * layers, errors). When `stream` is not a terminal it draws nothing, unless
 * `whenNotTerminal` requests one line per epoch.
 *
 * NOTE: the display listens to `optimizer.telemetry`, and a session with a
 * listener computes telemetry on its reporting steps (`telemetry.every`),
 * which costs device reads that a run without listeners skips.
 *
 * @example
 * ```ts
 * const progress = createProgressDisplay(optimizer, { epochs: 5, stepsPerEpoch: Math.ceil(size / batchSize), label: 'pcgrad' });
 * try {
 *   await model.fit(xs, ys, { epochs: 5, batchSize, callbacks: progress.callbacks });
 * } finally {
 *   progress.stop();
 * }
 * ```
 */
export function createProgressDisplay(source: { readonly telemetry: Telemetry }, options: ProgressOptions): ProgressDisplay {
  const stream = options.stream ?? process.stdout;
  const mode = stream.isTTY === true ? 'bar' : (options.whenNotTerminal ?? 'off');
  const label = options.label ?? 'training';
  const tracker = trackHighlights(source.telemetry);
  const started = performance.now();
  let epoch = 0;
  let stopped = false;

  const bar =
    mode === 'bar'
      ? new cliProgress.SingleBar(
          {
            stream,
            format: '{label} |{bar}| epoch {epoch}/{epochs} | step {value}/{total} | loss {loss}{highlights} | {duration_formatted}',
            hideCursor: true,
            barsize: 24,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;

  const stop = () => {
    if (stopped) {
      return;
    }
    stopped = true;
    tracker.unsubscribe();
    bar?.stop();
  };

  const callbacks: FitCallbacks = {
    onTrainBegin: async () => {
      bar?.start(options.epochs * options.stepsPerEpoch, 0, { label, epoch: 1, epochs: options.epochs, loss: '-', highlights: '' });
    },
    onEpochBegin: async (index) => {
      epoch = index;
      tracker.startEpoch();
    },
    onBatchEnd: async (batch, logs) => {
      bar?.update(epoch * options.stepsPerEpoch + batch + 1, {
        epoch: epoch + 1,
        loss: formatLoss(logs?.['loss']),
        highlights: withSeparator(formatHighlights(tracker.current())),
      });
    },
    onEpochEnd: async (index, logs) => {
      bar?.update((index + 1) * options.stepsPerEpoch, { epoch: index + 1 });
      if (mode === 'epoch-lines') {
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        stream.write(`${label} epoch ${index + 1}/${options.epochs}  loss ${formatLoss(logs?.['loss'])}${withSeparator(formatHighlights(tracker.current()), '  ')}  elapsed ${seconds} s\n`);
      }
    },
    onTrainEnd: async () => stop(),
  };

  return { mode, callbacks, highlights: () => tracker.current(), stop };
}

/**
 * Formats highlights as short phrases joined by " · ", leaving out those
 * without data: "conflicts 34% · clipped 2% · skipped 1 · frozen 3/12 · errors 1".
 */
export function formatHighlights(highlights: Highlights): string {
  const parts: string[] = [];
  if (highlights.conflicts.reported > 0) {
    parts.push(`conflicts ${percent(highlights.conflicts.conflicting / highlights.conflicts.reported)}`);
  }
  if (highlights.clips.reported > 0) {
    parts.push(`clipped ${percent(highlights.clips.clipped / highlights.clips.reported)}`);
  }
  if (highlights.skipped > 0) {
    parts.push(`skipped ${highlights.skipped}`);
  }
  if (highlights.frozen !== undefined) {
    parts.push(`frozen ${highlights.frozen.frozen}/${highlights.frozen.tracked}`);
  }
  if (highlights.errors > 0) {
    parts.push(`errors ${highlights.errors}`);
  }
  return parts.join(' · ');
}

/** Subscribes to the telemetry events the display summarizes. */
function trackHighlights(telemetry: Telemetry) {
  const epochCounts = { conflicts: { reported: 0, conflicting: 0 }, clips: { reported: 0, clipped: 0 } };
  const layers = new Map<string, boolean>();
  let skipped = 0;
  let errors = 0;
  const unsubscribe = telemetry.onAny((event, payload) => {
    const fields = payload as unknown as Record<string, unknown>;
    switch (event) {
      case 'conflict':
        epochCounts.conflicts.reported += 1;
        epochCounts.conflicts.conflicting += typeof fields['conflicts'] === 'number' && fields['conflicts'] > 0 ? 1 : 0;
        break;
      case 'clip':
        epochCounts.clips.reported += 1;
        epochCounts.clips.clipped += fields['clipped'] === true ? 1 : 0;
        break;
      case 'step':
        skipped += fields['applied'] === false ? 1 : 0;
        break;
      case 'freeze':
        layers.set(String(fields['layer']), fields['frozen'] === true);
        break;
      case 'error':
        errors += 1;
        break;
      default:
        break;
    }
  });
  return {
    unsubscribe,
    startEpoch() {
      epochCounts.conflicts = { reported: 0, conflicting: 0 };
      epochCounts.clips = { reported: 0, clipped: 0 };
    },
    current(): Highlights {
      return {
        conflicts: { ...epochCounts.conflicts },
        clips: { ...epochCounts.clips },
        skipped,
        frozen: layers.size === 0 ? undefined : { frozen: [...layers.values()].filter(Boolean).length, tracked: layers.size },
        errors,
      };
    },
  };
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function formatLoss(loss: number | undefined): string {
  return loss === undefined ? '-' : loss.toFixed(4);
}

function withSeparator(text: string, separator = ' | '): string {
  return text === '' ? '' : `${separator}${text}`;
}
