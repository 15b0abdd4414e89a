import cliProgress from 'cli-progress';

/** Receiver of the progress of one training run. Epochs and batches count from 0. */
export interface ProgressReporter {
  start(run: string, epochs: number, batchesPerEpoch: number): void;
  batchEnd(epoch: number, batch: number, loss: number): void;
  /** Receives the epoch's mean training loss and the seconds elapsed since the start of the run. */
  epochEnd(epoch: number, loss: number, elapsedSeconds: number): void;
  stop(): void;
}

/**
 * Creates a progress bar when `stream` is a terminal, and otherwise a
 * reporter that writes one plain line per epoch (for logs and CI).
 */
export function createProgressReporter(stream: NodeJS.WriteStream = process.stdout): ProgressReporter {
  return stream.isTTY ? new BarReporter(stream) : new LineReporter(stream);
}

class BarReporter implements ProgressReporter {
  private readonly bar: cliProgress.SingleBar;
  private epochs = 0;
  private batchesPerEpoch = 0;

  constructor(stream: NodeJS.WriteStream) {
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: '{run} |{bar}| epoch {epoch}/{epochs} | batch {value}/{total} | batch loss {loss} | {duration}s',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(run: string, epochs: number, batchesPerEpoch: number): void {
    this.epochs = epochs;
    this.batchesPerEpoch = batchesPerEpoch;
    this.bar.start(epochs * batchesPerEpoch, 0, { run, epoch: 1, epochs, loss: '-' });
  }

  batchEnd(epoch: number, batch: number, loss: number): void {
    this.bar.update(epoch * this.batchesPerEpoch + batch + 1, { epoch: Math.min(epoch + 1, this.epochs), loss: loss.toFixed(4) });
  }

  epochEnd(epoch: number): void {
    this.bar.update((epoch + 1) * this.batchesPerEpoch, { epoch: epoch + 1 });
  }

  stop(): void {
    this.bar.stop();
  }
}

class LineReporter implements ProgressReporter {
  private run = '';
  private epochs = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(run: string, epochs: number): void {
    this.run = run;
    this.epochs = epochs;
  }

  batchEnd(): void {}

  epochEnd(epoch: number, loss: number, elapsedSeconds: number): void {
    this.stream.write(`${this.run} epoch ${epoch + 1}/${this.epochs}  loss ${loss.toFixed(4)}  elapsed ${elapsedSeconds.toFixed(1)} s\n`);
  }

  stop(): void {}
}
