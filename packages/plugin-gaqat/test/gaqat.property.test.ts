import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { advanceWindow, countSignFlips, decideFreeze } from '@gradhooks/plugin-gaqat';
import type { FreezeRule, ScaleWindowState } from '@gradhooks/plugin-gaqat';

const value = fc.oneof(fc.constant(0), fc.double({ min: -1e3, max: 1e3, noNaN: true }), fc.double({ min: -1e-30, max: 1e-30, noNaN: true }));
const windowOf = (length: number) => fc.record({ task: fc.array(value, { minLength: length, maxLength: length }), smooth: fc.array(value, { minLength: length, maxLength: length }) });
const windows = fc.integer({ min: 2, max: 9 }).chain((length) => windowOf(length));
const rules = fc.record({
  reading: fc.constantFrom<FreezeRule['reading']>('sign-flips', 'conflict-rate'),
  threshold: fc.double({ min: -0.5, max: 1.5, noNaN: true }),
  freezeAllZero: fc.boolean(),
});

function dots(task: readonly number[], smooth: readonly number[]): number[] {
  return task.map((entry, t) => entry * smooth[t]!);
}

describe('gaqat disorder properties', () => {
  it('disorder lies in [0, 1] and flips below K', () => {
    fc.assert(
      fc.property(windows, rules, ({ task, smooth }, rule) => {
        const decision = decideFreeze({ task, dots: dots(task, smooth) }, rule);
        expect(decision.disorder).toBeGreaterThanOrEqual(0);
        expect(decision.disorder).toBeLessThanOrEqual(1);
        expect(decision.flips).toBeLessThanOrEqual(task.length - 1);
        expect(decision.flips).toBe(countSignFlips(task));
      }),
      { numRuns: 300, seed: 21 },
    );
  });

  it('is unchanged by positive scaling and by negating both gradients', () => {
    fc.assert(
      fc.property(windows, rules, fc.double({ min: 1e-3, max: 1e3, noNaN: true }), ({ task, smooth }, rule, factor) => {
        const base = decideFreeze({ task, dots: dots(task, smooth) }, rule);
        const scaled = task.map((entry) => entry * factor);
        const scaledSmooth = smooth.map((entry) => entry * factor);
        // Tiny values and their products can underflow to 0 after scaling; compare only windows where no sign changes.
        fc.pre(scaled.every((entry, t) => Math.sign(entry) === Math.sign(task[t]!)));
        fc.pre(dots(scaled, scaledSmooth).every((dot, t) => Math.sign(dot) === Math.sign(task[t]! * smooth[t]!)));
        const after = decideFreeze({ task: scaled, dots: dots(scaled, scaledSmooth) }, rule);
        const negated = decideFreeze({ task: task.map((entry) => -entry), dots: dots(task.map((entry) => -entry), smooth.map((entry) => -entry)) }, rule);
        expect(after).toEqual(base);
        expect(negated).toEqual(base);
      }),
      { numRuns: 300, seed: 22 },
    );
  });

  it('alternating signs give 1, one sign gives 0', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 1e-6, max: 1e3, noNaN: true }), { minLength: 2, maxLength: 12 }), (magnitudes) => {
        const rule: FreezeRule = { reading: 'sign-flips', threshold: 0.5, freezeAllZero: false };
        const alternating = magnitudes.map((magnitude, t) => (t % 2 === 0 ? magnitude : -magnitude));
        const none = magnitudes.map(() => 0);
        expect(decideFreeze({ task: alternating, dots: none }, rule).disorder).toBe(1);
        expect(decideFreeze({ task: magnitudes, dots: none }, rule)).toMatchObject({ disorder: 0, frozen: true });
      }),
      { numRuns: 100, seed: 23 },
    );
  });

  it('all-zero windows freeze only when asked', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), rules, (length, rule) => {
        const zeros = new Array<number>(length).fill(0);
        const decision = decideFreeze({ task: zeros, dots: zeros }, rule);
        expect(decision.frozen).toBe(rule.freezeAllZero && 0 < rule.threshold);
      }),
      { numRuns: 100, seed: 24 },
    );
  });

  it('a higher threshold never unfreezes', () => {
    fc.assert(
      fc.property(windows, rules, fc.double({ min: 0, max: 1, noNaN: true }), ({ task, smooth }, rule, extra) => {
        const low = decideFreeze({ task, dots: dots(task, smooth) }, rule);
        const high = decideFreeze({ task, dots: dots(task, smooth) }, { ...rule, threshold: rule.threshold + extra });
        if (low.frozen) {
          expect(high.frozen).toBe(true);
        }
      }),
      { numRuns: 300, seed: 25 },
    );
  });

  it('windowed state matches deciding on each finished block', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 5 }), fc.array(fc.tuple(value, value), { minLength: 1, maxLength: 30 }), rules, (length, sequence, rule) => {
        let state: ScaleWindowState | undefined;
        sequence.forEach(([task, smooth], t) => {
          // Frozen during step t: the decision on the last block of `length` steps that ended before t.
          const finished = Math.floor(t / length);
          const expected =
            finished === 0
              ? false
              : decideFreeze(
                  {
                    task: sequence.slice((finished - 1) * length, finished * length).map(([entry]) => entry),
                    dots: sequence.slice((finished - 1) * length, finished * length).map(([a, b]) => a * b),
                  },
                  rule,
                ).frozen;
          expect(state?.frozen[0] ?? false).toBe(expected);
          state = advanceWindow(state, { task: [task], dots: [task * smooth] }, length, rule).next;
        });
      }),
      { numRuns: 200, seed: 26 },
    );
  });
});
