// Trains the demo's MultiMNIST model once per aggregator config in configs/methods, at the
// parameter and at the representation level, and writes the comparison to RESULTS.md.
//
//   pnpm --filter @gradhooks/example-multitask-mnist run compare
//   pnpm --filter @gradhooks/example-multitask-mnist run compare -- --methods sum,upgrad --levels parameter --out /tmp/results.md
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { resolveConfig } from '@gradhooks/config';
import type { GradientLevel } from '@gradhooks/core';
import { selectBackend } from '@gradhooks/core/node';

import { buildMultiMnist, disposeMultiMnist } from './data.js';
import { createProgressReporter } from './progress.js';
import { DATA, SETTINGS } from './settings.js';
import { trainRun } from './train.js';
import type { RunResult } from './train.js';

/** Methods in table order: the config file configs/methods/<name>.json of each. */
const METHODS = [
  'sum',
  'mean',
  'constant',
  'random',
  'pcgrad',
  'upgrad',
  'dualproj',
  'mgda',
  'cagrad',
  'imtl-g',
  'aligned-mtl',
  'conflictfree',
  'gradvac',
  'graddrop',
  'nash-mtl',
];
const LEVELS: readonly GradientLevel[] = ['parameter', 'representation'];

interface Row {
  method: string;
  level: GradientLevel;
  result: RunResult;
}

async function main(): Promise<void> {
  // pnpm passes the `--` that separates its own arguments through to the script.
  const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--'));
  const { values } = parseArgs({
    args,
    options: {
      methods: { type: 'string' },
      levels: { type: 'string' },
      out: { type: 'string', default: fileURLToPath(new URL('../RESULTS.md', import.meta.url)) },
    },
  });
  const methods = values.methods?.split(',') ?? METHODS;
  const levels = (values.levels?.split(',') as GradientLevel[] | undefined) ?? LEVELS;
  const unknown = methods.filter((method) => !METHODS.includes(method));
  if (unknown.length > 0) {
    throw new Error(`no config for ${unknown.join(', ')}; the methods are ${METHODS.join(', ')}`);
  }

  const backend = await selectBackend();
  console.log(`backend: ${backend.backend} (${backend.package})`);
  // Every config loads before any training, so an error in one shows at once.
  const configs = new Map<string, Awaited<ReturnType<typeof resolveConfig>>>();
  for (const method of methods) {
    const file = fileURLToPath(new URL(`../configs/methods/${method}.json`, import.meta.url));
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const level of levels) {
      configs.set(`${method}@${level}`, await resolveConfig({ ...json, level }, { file }));
    }
  }

  const data = buildMultiMnist(DATA);
  const rows: Row[] = [];
  const started = performance.now();
  try {
    for (const level of levels) {
      for (const method of methods) {
        const result = await trainRun(`${method}@${level}`, configs.get(`${method}@${level}`)!, data, SETTINGS, createProgressReporter());
        rows.push({ method, level, result });
        console.log(formatRow({ method, level, result }, rows));
      }
    }
  } finally {
    disposeMultiMnist(data);
  }
  const totalMinutes = (performance.now() - started) / 60000;
  writeFileSync(values.out, report(rows, backend.backend, totalMinutes, args.filter((arg, i) => arg !== '--out' && args[i - 1] !== '--out')));
  console.log(`\nwrote ${values.out} (${totalMinutes.toFixed(1)} min of training)`);
}

function meanAccuracy(result: RunResult): number {
  return (result.accuracyLeft + result.accuracyRight) / 2;
}

function epochSeconds(result: RunResult): number {
  return result.trainSeconds / SETTINGS.epochs;
}

/** One markdown table row; the time ratio is against `sum` at the same level when it ran. */
function formatRow(row: Row, all: readonly Row[]): string {
  const { result } = row;
  const baseline = all.find((other) => other.method === 'sum' && other.level === row.level);
  const conflict = result.conflicts.reportedSteps === 0 ? 'n/a' : (result.conflicts.conflictingSteps / result.conflicts.reportedSteps).toFixed(2);
  const ratio = baseline === undefined ? 'n/a' : `${(epochSeconds(result) / epochSeconds(baseline.result)).toFixed(2)}×`;
  return `| \`${row.method}\` | ${row.level} | ${result.accuracyLeft.toFixed(3)} | ${result.accuracyRight.toFixed(3)} | ${meanAccuracy(result).toFixed(3)} | ${conflict} | ${epochSeconds(result).toFixed(2)} | ${ratio} |`;
}

function report(rows: readonly Row[], backend: string, totalMinutes: number, args: readonly string[]): string {
  const cpu = cpus();
  const command = ['pnpm --filter @gradhooks/example-multitask-mnist run compare', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  const table = [
    '| method | level | acc left | acc right | acc mean | conflict rate | s / epoch | vs `sum` |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => formatRow(row, rows)),
  ].join('\n');
  return `# MultiMNIST: every aggregator, at both levels

Generated by \`src/compare.ts\`. Reproduce it from the repository root with:

\`\`\`
${command}
\`\`\`

Each run trains the demo's model (\`src/model.ts\`, seed ${SETTINGS.modelSeed}) on the demo's data (${DATA.trainPairs} training and
${DATA.testPairs} test pairs, seed ${DATA.seed}) for ${SETTINGS.epochs} epochs of batch ${SETTINGS.batchSize} with Adam (learning rate
${SETTINGS.learningRate}), in the same order, through \`model.fit\` and a \`HookedOptimizer\` built from
\`configs/methods/<method>.json\`. The configs differ only in the aggregator; each also clips
the combined gradient to a global norm of 5, like the demo. The representation-level runs
set \`level: "representation"\` and put a \`FanOut\` layer between \`shared_2\` and the heads;
the initial weights are the same.

Measured on ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, Node.js ${process.version}, the ${backend}
backend, ${new Date().toISOString().slice(0, 10)}; ${totalMinutes.toFixed(1)} minutes of training in all.

${table}

| column | meaning |
| --- | --- |
| acc left, acc right | test accuracy of each head on the ${DATA.testPairs} test pairs |
| acc mean | mean of the two |
| conflict rate | share of steps whose two task gradients have a negative dot product, over the shared layers at the parameter level and over the representation (all examples of the batch) at the representation level |
| s / epoch | wall time of \`model.fit\` divided by the number of epochs |
| vs \`sum\` | s / epoch relative to the \`sum\` run at the same level |

\`krum\` and \`trimmed-mean\` are not in the table: they need at least three objectives
(Krum f + 3, the trimmed mean 2·trim + 1), and MultiMNIST has two. With ${DATA.testPairs} test pairs the
standard error of one accuracy is about 0.011, so differences of a few thousandths between
methods are not measurable here. Wall times come from whole runs, one after another, so a
change in the machine's load shifts them; the per-step costs of each aggregator are measured
with interleaved rounds by \`pnpm bench:surgery\`
(see BENCHMARKS.md).
`;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
