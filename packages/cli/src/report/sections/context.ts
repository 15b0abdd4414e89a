import type { RunData } from '../runData.js';

/** Input of every section builder. */
export interface SectionContext {
  data: RunData;
  /** Maximum points a chart draws; longer series are averaged over buckets. */
  maxPoints: number;
  /** Returns an element id made from `base` that no other chart of the report uses. */
  chartId(base: string): string;
}

export function createSectionContext(data: RunData, maxPoints: number): SectionContext {
  const used = new Map<string, number>();
  return {
    data,
    maxPoints,
    chartId(base) {
      const count = (used.get(base) ?? 0) + 1;
      used.set(base, count);
      return count === 1 ? base : `${base}-${count}`;
    },
  };
}
