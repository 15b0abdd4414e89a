import { parseArgs } from 'node:util';

/** Settings of one benchmark run, from the command line and the environment. */
export interface BenchOptions {
  /** Number of timed rounds. Each round runs every selected variant once. */
  rounds: number;
  /** Number of untimed rounds before the timed ones. */
  warmupRounds: number;
  /** Keys of the variants to time, or undefined for all. Their baselines are added when missing. */
  variants: readonly string[] | undefined;
  /** Number of steps timed in the breakdown section, where 0 skips the section. */
  breakdownSteps: number;
  /** File to write every timed step's duration to, as JSON; undefined writes none. */
  samplesFile: string | undefined;
  quick: boolean;
  help: boolean;
  list: boolean;
}

const fullDefaults = { rounds: 150, warmupRounds: 15, breakdownSteps: 60 };
const quickDefaults = { rounds: 6, warmupRounds: 2, breakdownSteps: 4 };

export const usage = `Usage: pnpm bench [options]      (same as: tsx bench/run.ts [options])

Times training steps of a 784-256-128-10 MLP at batch 128 with and without
gradhooks, interleaving the variants round by round, and prints the median
step time of each variant and its ratio to the plain step of the same run.

Options (each also readable from the environment variable in brackets):
  --quick              smoke run of a few seconds: ${quickDefaults.rounds} rounds, ${quickDefaults.warmupRounds} warm-up rounds, ${quickDefaults.breakdownSteps} breakdown steps
  --rounds N           timed rounds, each running every variant once (default ${fullDefaults.rounds}) [GRADHOOKS_BENCH_ROUNDS]
  --warmup N           untimed warm-up rounds (default ${fullDefaults.warmupRounds}) [GRADHOOKS_BENCH_WARMUP]
  --variants A,B,...   variants to time, by key; their baselines are added (default: all) [GRADHOOKS_BENCH_VARIANTS]
  --breakdown N        steps timed per phase in the PCGrad cost breakdown; 0 skips it (default ${fullDefaults.breakdownSteps}) [GRADHOOKS_BENCH_BREAKDOWN]
  --samples FILE       write every timed step's duration in ms (per variant, in round order) and
                       the order of the variants in each round to FILE as JSON
  --list               list the variant keys and exit
  --help               print this help and exit

Backend: wasm, or the one named by GRADHOOKS_BACKEND (wasm or cpu).
Command-line options take precedence over the environment.`;

/** Reads the options from `argv` (without the node and script paths) and `env`. */
export function readOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: [...argv].filter((arg) => arg !== '--'),
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      variants: { type: 'string' },
      breakdown: { type: 'string' },
      samples: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick === true;
  const defaults = quick ? quickDefaults : fullDefaults;
  const variantList = values.variants ?? nonEmpty(env['GRADHOOKS_BENCH_VARIANTS']);
  return {
    rounds: readCount('--rounds', values.rounds ?? nonEmpty(env['GRADHOOKS_BENCH_ROUNDS']), defaults.rounds, 1),
    warmupRounds: readCount('--warmup', values.warmup ?? nonEmpty(env['GRADHOOKS_BENCH_WARMUP']), defaults.warmupRounds, 0),
    breakdownSteps: readCount('--breakdown', values.breakdown ?? nonEmpty(env['GRADHOOKS_BENCH_BREAKDOWN']), defaults.breakdownSteps, 0),
    samplesFile: values.samples,
    variants: variantList === undefined ? undefined : variantList.split(',').map((key) => key.trim()).filter((key) => key !== ''),
    quick,
    help: values.help === true,
    list: values.list === true,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function readCount(option: string, value: string | undefined, fallback: number, minimum: number): number {
  if (value === undefined) {
    return fallback;
  }
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < minimum) {
    throw new Error(`Invalid value '${value}' for ${option}: expected an integer of at least ${minimum}.`);
  }
  return parsed;
}
