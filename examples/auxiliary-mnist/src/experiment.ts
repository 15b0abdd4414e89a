import { fileURLToPath } from 'node:url';

import { loadConfig } from '@gradhooks/config';
import type { ResolvedConfig } from '@gradhooks/config';

import { buildMultiMnist, disposeMultiMnist } from '../../multitask-mnist/src/data.js';
import { trainRun } from './train.js';
import type { RunResult, TrainSettings } from './train.js';

/** One compared method: a name and the config file that sets it up, relative to this file. */
export interface Method {
  name: string;
  config: string;
  description: string;
}

/** The compared methods, in table order. */
export const METHODS: readonly Method[] = [
  { name: 'sum', config: '../configs/sum.json', description: 'left + right, plain sum' },
  { name: 'weighted', config: '../configs/weighted.json', description: 'left + 0.1·right: the weighting of Bloop, without its projection' },
  { name: 'pcgrad', config: '../configs/pcgrad.json', description: 'PCGrad on the shared layers, both tasks weight 1' },
  { name: 'bloop', config: '../configs/bloop.json', description: 'ema-bloop: left main, right auxiliary, lambda 0.1, ema 0.1' },
];

/** Size of the experiment. */
export interface ExperimentSettings extends TrainSettings {
  trainPairs: number;
  testPairs: number;
  /** Seeds of the data pairing; run k also seeds the model's initializers with 100 + seed. */
  seeds: readonly number[];
}

/** Results of every method on every seed, in `METHODS` order. */
export interface ExperimentResult {
  method: Method;
  runs: Array<{ seed: number } & RunResult>;
}

/**
 * Trains every method on every seed. For one seed, every method trains on the
 * same pairs in the same order and starts from the same weights, so methods
 * differ only in how the gradients of the two tasks are combined.
 */
export async function runExperiment(settings: ExperimentSettings, onRun: (method: string, seed: number, result: RunResult) => void = () => {}): Promise<ExperimentResult[]> {
  // Every config loads before any training, so a mistake in one shows at once.
  const configs: ResolvedConfig[] = await Promise.all(METHODS.map((method) => loadConfig(fileURLToPath(new URL(method.config, import.meta.url)))));
  const results: ExperimentResult[] = METHODS.map((method) => ({ method, runs: [] }));
  for (const seed of settings.seeds) {
    const data = buildMultiMnist({ trainPairs: settings.trainPairs, testPairs: settings.testPairs, seed });
    try {
      for (const [i, method] of METHODS.entries()) {
        const result = await trainRun(configs[i]!, data, settings, 100 + seed);
        results[i]!.runs.push({ seed, ...result });
        onRun(method.name, seed, result);
      }
    } finally {
      disposeMultiMnist(data);
    }
  }
  return results;
}
