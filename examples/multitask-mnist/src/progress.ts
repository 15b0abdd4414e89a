/**
 * Progress settings of a training run: the output stream, and the behavior
 * when it is not a terminal. `trainRun` draws the progress display of
 * `@gradhooks/cli` with them, a bar with the epoch, step, loss and telemetry
 * highlights in a terminal.
 */
export interface ProgressReporter {
  stream: NodeJS.WriteStream;
  whenNotTerminal: 'off' | 'epoch-lines';
}

/**
 * Returns the demo's progress settings: draw on `stream`, and write one
 * plain line per epoch (loss, highlights, elapsed time) when it is not a
 * terminal, for logs and CI.
 */
export function createProgressReporter(stream: NodeJS.WriteStream = process.stdout): ProgressReporter {
  return { stream, whenNotTerminal: 'epoch-lines' };
}
