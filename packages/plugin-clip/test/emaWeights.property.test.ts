import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { emaDecay, emaWeights, emaWeightsOf } from '@gradhooks/plugin-clip';

import { gradientFeeder } from './helpers.js';

const path = fc.array(fc.double({ min: -100, max: 100, noNaN: true }).map(Math.fround), { minLength: 1, maxLength: 12 });
const decay = fc.double({ min: 0, max: 0.999, noNaN: true });

function averageAfter(values: number[], options: { decay: number; warmup: boolean; biasCorrection: boolean }): number {
  const feeder = gradientFeeder([emaWeights(options)], { w: [values[0]!] });
  for (const target of values.slice(1)) {
    feeder.step({ w: [feeder.values()['w']![0]! - target] });
  }
  const average = emaWeightsOf(feeder.optimizer)?.average(feeder.full('w'));
  const result = average === undefined ? values[0]! : average.dataSync()[0]!;
  average?.dispose();
  feeder.dispose();
  return result;
}

describe('ema-weights properties', () => {
  it('stays within the range of the weights it averaged', () => {
    fc.assert(
      fc.property(path, decay, fc.boolean(), fc.boolean(), (values, rate, warmup, biasCorrection) => {
        const result = averageAfter(values, { decay: rate, warmup, biasCorrection });
        // Bias correction starts at zero and leaves out the starting weights.
        const seen = biasCorrection && values.length > 1 ? values.slice(1) : values;
        const slack = 1e-4 * Math.max(1, ...seen.map(Math.abs));
        expect(result).toBeGreaterThanOrEqual(Math.min(...seen) - slack);
        expect(result).toBeLessThanOrEqual(Math.max(...seen) + slack);
      }),
      { numRuns: 40, seed: 81 },
    );
  });

  it('leaves constant weights unchanged', () => {
    fc.assert(
      fc.property(fc.double({ min: -100, max: 100, noNaN: true }).map(Math.fround), fc.integer({ min: 2, max: 6 }), decay, fc.boolean(), (value, length, rate, biasCorrection) => {
        const result = averageAfter(Array.from({ length }, () => value), { decay: rate, warmup: false, biasCorrection });
        expect(Math.abs(result - value)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(value)));
      }),
      { numRuns: 40, seed: 82 },
    );
  });

  it('warm-up never exceeds the decay and grows with t', () => {
    fc.assert(
      fc.property(decay, fc.integer({ min: 1, max: 1e6 }), (rate, t) => {
        expect(emaDecay(rate, t, true)).toBeLessThanOrEqual(rate);
        expect(emaDecay(rate, t + 1, true)).toBeGreaterThanOrEqual(emaDecay(rate, t, true));
      }),
      { numRuns: 200, seed: 83 },
    );
  });
});
