import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { zclipStep } from '@gradhooks/plugin-clip';
import type { ZClipSettings, ZClipStatistics } from '@gradhooks/plugin-clip';

const settings = fc.record<ZClipSettings>({
  alpha: fc.double({ min: 0.5, max: 0.999, noNaN: true }),
  zThreshold: fc.double({ min: 0.5, max: 5, noNaN: true }),
  maxNorm: fc.option(fc.double({ min: 0.1, max: 100, noNaN: true }), { nil: undefined }),
  warmupSteps: fc.integer({ min: 1, max: 5 }),
  eps: fc.constant(1e-6),
  mode: fc.constantFrom('zscore', 'percentile'),
  clipOption: fc.constantFrom('adaptive-scaling', 'mean'),
  clipFactor: fc.double({ min: 0.5, max: 1, noNaN: true }),
  skipUpdateOnSpike: fc.boolean(),
});
const norms = fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 40 });

describe('zclip properties', () => {
  it('never raises a norm and respects the effective threshold', () => {
    fc.assert(
      fc.property(settings, norms, (options, sequence) => {
        let statistics: ZClipStatistics = { buffer: [], mean: null, variance: null };
        for (const norm of sequence) {
          const decision = zclipStep(statistics, norm, options);
          expect(decision.coefficient).toBeGreaterThan(0);
          expect(decision.coefficient).toBeLessThanOrEqual(1);
          if (decision.effective !== undefined) {
            expect(norm * decision.coefficient).toBeLessThanOrEqual(Math.max(decision.effective, 0) + 1e-9 * norm);
          }
          if (decision.next.mean !== null) {
            expect(Number.isFinite(decision.next.mean)).toBe(true);
            expect(decision.next.variance!).toBeGreaterThanOrEqual(0);
          }
          statistics = decision.next;
        }
      }),
      { numRuns: 200, seed: 51 },
    );
  });

  it('starts the statistics after exactly warmupSteps norms', () => {
    fc.assert(
      fc.property(settings, norms, (options, sequence) => {
        let statistics: ZClipStatistics = { buffer: [], mean: null, variance: null };
        sequence.forEach((norm, i) => {
          const decision = zclipStep(statistics, norm, options);
          expect(decision.phase).toBe(i < options.warmupSteps ? 'warmup' : 'active');
          expect(decision.next.mean === null).toBe(i + 1 < options.warmupSteps);
          statistics = decision.next;
        });
      }),
      { numRuns: 100, seed: 52 },
    );
  });
});
