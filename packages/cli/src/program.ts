import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';

import { Command, CommanderError, InvalidArgumentError } from 'commander';

import { CliError } from './errors.js';

/** Output streams of the CLI, and the folder that relative paths start from. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Folder that relative paths and plugin packages resolve from. */
  cwd: string;
}

const EXIT_CODES = `Exit codes:
  0  success
  1  a problem was found or the command failed; the messages say which`;

/** Help text after a subcommand's options: a paragraph, an example, the exit codes. */
function helpAfter(paragraph: string | undefined, example: string): string {
  return `${paragraph === undefined ? '' : `\n${paragraph}\n`}\nExample:\n  ${example}\n\n${EXIT_CODES}`;
}

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Runs the gradhooks command line with `argv` (the arguments after the
 * program name) and returns the exit code: 0 on success, 1 when a problem
 * was found or the command failed. `--help` works on every command.
 */
export async function runCli(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() }): Promise<number> {
  let exitCode = 0;
  const program = createProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help, version and usage errors: commander has already written its message.
      return error.exitCode === 0 ? 0 : 1;
    }
    if (error instanceof CliError) {
      io.stderr.write(`gradhooks: ${error.message}\n`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
      // A file system error (EISDIR, ENOENT, EACCES, ...): its message names the operation and the path.
      io.stderr.write(`gradhooks: ${(error as Error).message}\n`);
      return 1;
    }
    io.stderr.write(`gradhooks: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
  return exitCode;
}

function createProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('gradhooks')
    .description('Validate gradhooks config files, print their JSON Schema, write starter configs and build HTML reports of training runs.')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (text) => void io.stdout.write(text), writeErr: (text) => void io.stderr.write(text) })
    .exitOverride()
    .addHelpText('after', `\n${EXIT_CODES}`);
  const path = (file: string) => resolvePath(io.cwd, file);

  command(program, 'validate')
    .description('Load config files as training would and print every problem, in the config loader\'s format.')
    .argument('<config...>', 'config files to check')
    .option('--json', 'print the result as JSON, one object per file in an array')
    .option('--no-create', 'skip creating the plugins (creating needs a TensorFlow.js backend)')
    .addHelpText('after', helpAfter(undefined, 'gradhooks validate gradhooks.config.json'))
    .action(async (configs: string[], options: { json?: boolean; create: boolean }) => {
      const { formatValidation, validateConfig, validationJson } = await import('./commands/validate.js');
      const results = [];
      for (const config of configs) {
        results.push(await validateConfig(path(config), { createPlugins: options.create }));
      }
      if (options.json === true) {
        io.stdout.write(`${JSON.stringify(results.map(validationJson), null, 2)}\n`);
      } else {
        io.stdout.write(`${results.map(formatValidation).join('\n')}\n`);
      }
      setExitCode(results.every((result) => result.valid) ? 0 : 1);
    });

  command(program, 'schema')
    .description('Print the JSON Schema of config files, assembled from the built-in plugins and those of the named packages.')
    .option('--plugins <package...>', 'packages or files whose plugins join the schema, resolved from the current directory')
    .option('-o, --output <file>', 'write the schema to this file instead of standard output')
    .addHelpText(
      'after',
      helpAfter(
        `Point a config's "$schema" at the written file for completion and checks in editors.`,
        'gradhooks schema --plugins gradhooks-plugin-gradient-noise -o gradhooks.schema.json',
      ),
    )
    .action(async (options: { plugins?: string[]; output?: string }) => {
      const { assembleSchema } = await import('./commands/schema.js');
      const assembled = await assembleSchema({ plugins: options.plugins ?? [], cwd: io.cwd });
      assembled.warnings.forEach((warning) => io.stderr.write(`warning: ${warning}\n`));
      const text = `${JSON.stringify(assembled.schema, null, 2)}\n`;
      if (options.output === undefined) {
        io.stdout.write(text);
      } else {
        await writeFile(path(options.output), text);
        io.stdout.write(`wrote ${path(options.output)} (${assembled.plugins.length} plugins)\n`);
      }
    });

  command(program, 'init')
    .description('Write a starter config for the named plugins, every option set to its default.')
    .argument('[plugin...]', 'built-in plugin names, or packages and files that export a plugin')
    .option('-o, --output <file>', 'config file to write, or - for standard output', 'gradhooks.config.json')
    .option('--objectives <names>', 'comma-separated objective names to declare (inside fit: the model output names)', parseList)
    .option('--force', 'replace the output file if it exists')
    .addHelpText(
      'after',
      helpAfter(
        `Options without a default (clip-global-norm's maxNorm, say) are left out\nand listed on standard error; set them before training.`,
        'gradhooks init pcgrad clip-global-norm --objectives left,right',
      ),
    )
    .action(async (plugins: string[], options: { output: string; objectives?: string[]; force?: boolean }) => {
      const { starterConfig, writeStarterConfig } = await import('./commands/init.js');
      const toStdout = options.output === '-';
      const output = toStdout ? path('gradhooks.config.json') : path(options.output);
      const starter = await starterConfig(plugins, { output, ...(options.objectives === undefined ? {} : { objectives: options.objectives }) });
      if (toStdout) {
        io.stdout.write(`${JSON.stringify(starter.config, null, 2)}\n`);
      } else {
        io.stdout.write(`wrote ${await writeStarterConfig(starter, output, { force: options.force === true })}\n`);
      }
      starter.todo.forEach((item) => io.stderr.write(`to do: ${item}\n`));
    });

  command(program, 'report')
    .description("Build a self-contained HTML report with plots from a run's telemetry JSONL file.")
    .argument('<run.jsonl>', 'telemetry file that createJsonlSink or a config\'s telemetry.jsonl wrote')
    .option('-o, --output <file>', 'HTML file to write (default: the input with .html in place of .jsonl)')
    .option('--title <text>', 'page title')
    .option('--max-points <count>', 'maximum points per chart; longer series are averaged over buckets (default 4000)', parsePositiveInteger)
    .addHelpText(
      'after',
      helpAfter(
        [
          'The page loads nothing from a network; open it in any browser. It plots',
          'loss and metrics per objective, gradient cosines and the conflict rate,',
          'aggregator weights, norms before and after each clipping plugin with its',
          'clip rate, skipped steps, GAQAT frozen layers, dry-run results, plugin',
          'state and step times, and lists the resolved config. Sections whose events',
          'the run lacks say so.',
        ].join('\n'),
        'gradhooks report runs/pcgrad.jsonl -o runs/pcgrad.html',
      ),
    )
    .action(async (input: string, options: { output?: string; title?: string; maxPoints?: number }) => {
      const { buildReport } = await import('./commands/report.js');
      const result = await buildReport(path(input), {
        ...(options.output === undefined ? {} : { output: path(options.output) }),
        ...(options.title === undefined ? {} : { title: options.title }),
        ...(options.maxPoints === undefined ? {} : { maxPoints: options.maxPoints }),
      });
      const absentSections = result.sections.filter((section) => !section.present).map((section) => section.title.toLowerCase());
      io.stdout.write(`wrote ${result.output} (${result.events} events, ${result.charts} charts${absentSections.length === 0 ? '' : `; not in this run: ${absentSections.join(', ')}`})\n`);
    });

  return program;
}

/** Adds a subcommand that shares the program's output settings and error handling. */
function command(program: Command, name: string): Command {
  return program
    .command(name)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
}

function parseList(value: string): string[] {
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) {
    throw new InvalidArgumentError('Give at least one name, such as left,right.');
  }
  return names;
}

function parsePositiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new InvalidArgumentError('Give a positive integer.');
  }
  return number;
}
