import { SeededRandom } from '@gradhooks/core';

import { describeShift, sampleIndices, shiftDomain, subset } from './data.js';
import type { DigitSplits, Shift } from './data.js';
import { accuracy, buildClassifier, fineTune, pretrain } from './finetune.js';
import type { Method, PhaseSettings, ProjectionSummary } from './finetune.js';

/** The compared fine-tuning methods, in table order. */
export const METHODS: readonly Method[] = ['plain', 'kl', 'prograd'];

/** Size of the experiment. */
export interface ExperimentSettings {
  hiddenUnits: number;
  /** Seed of the pretrained model's initializers and batch order. */
  pretrainSeed: number;
  pretrain: PhaseSettings;
  fineTune: PhaseSettings;
  /** Training examples per class in the shifted domain. */
  shotsPerClass: number;
  shifts: readonly Shift[];
  /** Seeds of the few-shot sample and of the fine-tuning batch order. */
  seeds: readonly number[];
}

/** Accuracies of one fine-tuned model. */
export interface RunResult {
  seed: number;
  /** Test accuracy on the shifted domain. */
  shifted: number;
  /** Test accuracy on the original domain. */
  original: number;
  projection: ProjectionSummary | undefined;
}

/** Results for one domain shift. */
export interface ShiftResult {
  shift: string;
  /** Accuracy of the pretrained model, before fine-tuning, on the shifted and the original test sets. */
  pretrained: { shifted: number; original: number };
  methods: Array<{ method: Method; runs: RunResult[] }>;
}

/**
 * Pretrains one classifier on the original digits, then, for each shift and
 * seed, fine-tunes copies of it on `shotsPerClass` shifted training images per
 * class with each method, the pretrained model serving as the frozen
 * reference. For one shift and seed, every method trains on the same images
 * in the same batch order.
 */
export async function runExperiment(
  digits: DigitSplits,
  settings: ExperimentSettings,
  onRun: (shift: string, method: Method, result: RunResult) => void = () => {},
): Promise<{ pretrainedAccuracy: number; shifts: ShiftResult[] }> {
  const pretrained = buildClassifier(settings.hiddenUnits, settings.pretrainSeed);
  try {
    await pretrain(pretrained, digits.train, settings.pretrain, settings.pretrainSeed);
    const shifts: ShiftResult[] = [];
    for (const shift of settings.shifts) {
      const train = shiftDomain(digits.train, shift);
      const test = shiftDomain(digits.test, shift);
      const result: ShiftResult = {
        shift: describeShift(shift),
        pretrained: { shifted: accuracy(pretrained, test), original: accuracy(pretrained, digits.test) },
        methods: METHODS.map((method) => ({ method, runs: [] })),
      };
      for (const seed of settings.seeds) {
        const fewShot = subset(train, sampleIndices(train, settings.shotsPerClass, new SeededRandom(seed)));
        for (const entry of result.methods) {
          const { model, projection } = await fineTune(pretrained, pretrained, fewShot, entry.method, { ...settings.fineTune, hiddenUnits: settings.hiddenUnits }, seed);
          const run: RunResult = { seed, shifted: accuracy(model, test), original: accuracy(model, digits.test), projection };
          model.dispose();
          entry.runs.push(run);
          onRun(result.shift, entry.method, run);
        }
      }
      shifts.push(result);
    }
    return { pretrainedAccuracy: accuracy(pretrained, digits.test), shifts };
  } finally {
    pretrained.dispose();
  }
}
