/**
 * A failure the CLI reports to the user as one message and exit code 1,
 * without a stack trace: a missing file, a package that exports no plugin.
 */
export class CliError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
  }
}
