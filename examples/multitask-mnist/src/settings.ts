import type { TrainSettings } from './train.js';

/** Data of the demo and of the method comparison: 6,000 training and 1,000 test pairs from seed 1. */
export const DATA = { trainPairs: 6000, testPairs: 1000, seed: 1 };

// Measured with the wasm backend on a 2-core machine: both demo runs together take about 65 s and
// reach about 0.85 test accuracy per task.
export const SETTINGS: TrainSettings = {
  epochs: 6,
  batchSize: 128,
  learningRate: 1e-3,
  hiddenUnits: [256, 128],
  modelSeed: 42,
};
