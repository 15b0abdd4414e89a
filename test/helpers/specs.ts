import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder of the vendored worked examples. */
export const specsDirectory = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'specs');

export interface Oracle {
  id: string;
  technique: string;
  semantics: string;
  params: Record<string, unknown>;
  inputs: Record<string, unknown>;
  expected: Record<string, unknown>;
  notes?: string;
}

export interface RegressionCase {
  id: string;
  title: string;
  components: string[];
  rule?: string;
  subcases?: Array<Record<string, unknown>>;
}

interface OracleFile {
  recommended_tolerance: Record<string, { rtol: number; atol?: number }>;
  oracles: Oracle[];
}

let oracleFile: OracleFile | undefined;
let caseFile: { cases: RegressionCase[] } | undefined;

function oracleData(): OracleFile {
  oracleFile ??= JSON.parse(readFileSync(join(specsDirectory, 'oracles.json'), 'utf8')) as OracleFile;
  return oracleFile;
}

/** Returns the worked example with `id`; throws when it is missing so a renamed example fails loudly. */
export function oracle(id: string): Oracle {
  const found = oracleData().oracles.find((entry) => entry.id === id);
  if (found === undefined) {
    throw new Error(`no oracle '${id}' in specs/oracles.json`);
  }
  return found;
}

/** Returns every worked example whose id starts with `prefix`; throws when there is none. */
export function oraclesWithPrefix(prefix: string): Oracle[] {
  const found = oracleData().oracles.filter((entry) => entry.id.startsWith(prefix));
  if (found.length === 0) {
    throw new Error(`no oracle with prefix '${prefix}' in specs/oracles.json`);
  }
  return found;
}

/** Float32 tolerance recommended by the specification for the tfjs cpu and wasm backends. */
export function float32Tolerance(): { rtol: number; atol: number } {
  const tolerance = oracleData().recommended_tolerance['float32_tfjs_cpu']!;
  return { rtol: tolerance.rtol, atol: tolerance.atol ?? 0 };
}

/** Returns the regression case with `id`. */
export function regressionCase(id: string): RegressionCase {
  caseFile ??= JSON.parse(readFileSync(join(specsDirectory, 'cases.json'), 'utf8')) as { cases: RegressionCase[] };
  const found = caseFile.cases.find((entry) => entry.id === id);
  if (found === undefined) {
    throw new Error(`no case '${id}' in specs/cases.json`);
  }
  return found;
}

/** Returns the subcase of a regression case by name. */
export function subcase(id: string, name: string): Record<string, unknown> {
  const found = regressionCase(id).subcases?.find((entry) => entry['name'] === name);
  if (found === undefined) {
    throw new Error(`no subcase '${name}' in case ${id}`);
  }
  return found;
}
