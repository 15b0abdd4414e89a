import { runCli } from './program.js';

/** Entry point of the `gradhooks` bin: runs the command line and returns the exit code. */
export function main(argv: readonly string[]): Promise<number> {
  return runCli(argv);
}
