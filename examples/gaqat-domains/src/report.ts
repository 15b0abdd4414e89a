/** Result of one training run. */
export interface RunRow {
  variant: string;
  /** Bit width of the quantized layers; 32 for the float model. */
  bits: number;
  seed: number;
  /** Accuracy on the held-out domain. */
  heldOut: number;
  /** Mean accuracy over the source domains' test splits. */
  source: number;
  /** GAQAT freeze decisions: windows that froze, of all windows ended (undefined without gaqat). */
  frozen: { frozen: number; total: number } | undefined;
  /** Wall time of training, in seconds. */
  seconds: number;
}

/** Computes the mean and the sample standard deviation. */
export function meanAndDeviation(values: readonly number[]): { mean: number; deviation: number } {
  const mean = values.reduce((total, value) => total + value, 0) / values.length;
  const variance = values.length < 2 ? 0 : values.reduce((total, value) => total + (value - mean) ** 2, 0) / (values.length - 1);
  return { mean, deviation: Math.sqrt(variance) };
}

const formatAccuracy = (values: readonly number[]) => {
  const { mean, deviation } = meanAndDeviation(values);
  return `${mean.toFixed(3)} ± ${deviation.toFixed(3)}`;
};

/**
 * Formats one Markdown row per variant and bit width: accuracies as mean ±
 * standard deviation over seeds, the per-seed held-out accuracies, the share
 * of GAQAT windows that froze, and the mean training time.
 */
export function formatResults(rows: readonly RunRow[], heldOutAngle: number): string {
  const groups = new Map<string, RunRow[]>();
  for (const row of rows) {
    const key = `${row.bits}\u0000${row.variant}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  const header = ['variant', 'bits', `held-out ${heldOutAngle}° acc`, 'source acc', 'held-out per seed', 'frozen windows', 'train s'];
  const lines = [...groups.values()].map((group) => {
    const first = group[0]!;
    const frozen = group.every((row) => row.frozen === undefined)
      ? '—'
      : `${group.reduce((total, row) => total + (row.frozen?.frozen ?? 0), 0)}/${group.reduce((total, row) => total + (row.frozen?.total ?? 0), 0)}`;
    return [
      first.variant,
      first.bits === 32 ? 'float32' : String(first.bits),
      formatAccuracy(group.map((row) => row.heldOut)),
      formatAccuracy(group.map((row) => row.source)),
      group.map((row) => row.heldOut.toFixed(3)).join(', '),
      frozen,
      meanAndDeviation(group.map((row) => row.seconds)).mean.toFixed(1),
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [format(header), format(widths.map((width) => '-'.repeat(width))), ...lines.map(format)].join('\n');
}
