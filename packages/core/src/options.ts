import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

import { describeValue } from './errors.js';

/** A JSON value, as plugin state and options are stored. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One problem found while validating options against a JSON Schema. */
export interface OptionIssue {
  /** JSON pointer of the bad value inside the validated object, for example `/maxNorm`. */
  path: string;
  /** The value received at `path` (undefined for a missing value). */
  received: unknown;
  /** Description of what the schema allows there. */
  expected: string;
  /** Change that fixes the problem. */
  fix: string;
  /** The JSON Schema keyword that failed. */
  keyword: string;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/**
 * Validates `value` against `schema`, filling in schema defaults. Returns the
 * completed copy, or the list of issues; `value` itself is never changed.
 */
export function validateAgainstSchema(
  schema: object,
  value: unknown,
): { ok: true; value: Record<string, unknown> } | { ok: false; issues: OptionIssue[] } {
  const copy = value === undefined ? {} : structuredClone(value);
  const validate = validatorFor(schema);
  if (validate(copy)) {
    return { ok: true, value: copy as Record<string, unknown> };
  }
  const issues = (validate.errors ?? []).map((error) => issueFromAjv(error, schema, value));
  return { ok: false, issues: dropRedundant(issues) };
}

/** Reads the value at a JSON pointer, or undefined when the path does not exist. */
export function valueAtPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') {
    return root;
  }
  let current: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function schemaAtPath(schema: object, schemaPath: string): Record<string, unknown> | undefined {
  // ajv's schemaPath points at the failing keyword, for example '#/properties/maxNorm/exclusiveMinimum'.
  const parts = schemaPath.replace(/^#\/?/, '').split('/').slice(0, -1);
  let current: unknown = schema;
  for (const part of parts) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[part];
  }
  return current as Record<string, unknown> | undefined;
}

function issueFromAjv(error: ErrorObject, schema: object, root: unknown): OptionIssue {
  const path = error.instancePath;
  const received = valueAtPointer(root, path);
  const local = schemaAtPath(schema, error.schemaPath);
  const description = typeof local?.['description'] === 'string' ? ` (${local['description']})` : '';
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const allowed = Object.keys((local?.['properties'] as object | undefined) ?? {});
      const suggestion = closest(key, allowed);
      return {
        path: `${path}/${key}`,
        received: key,
        expected: allowed.length > 0 ? `one of the known keys: ${allowed.join(', ')}` : 'no keys',
        fix: suggestion === undefined ? `Remove '${key}'.` : `Rename '${key}' to '${suggestion}'.`,
        keyword: error.keyword,
      };
    }
    case 'required': {
      const key = String(params['missingProperty']);
      const property = (local?.['properties'] as Record<string, Record<string, unknown>> | undefined)?.[key];
      const what = typeof property?.['description'] === 'string' ? ` (${property['description']})` : '';
      return {
        path: `${path}/${key}`,
        received: undefined,
        expected: `a value for '${key}'${what}`,
        fix: `Add '${key}'; it has no default.`,
        keyword: error.keyword,
      };
    }
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map((item) => JSON.stringify(item));
      return {
        path,
        received,
        expected: `one of ${allowed.join(', ')}${description}`,
        fix: `Use one of ${allowed.join(', ')}.`,
        keyword: error.keyword,
      };
    }
    case 'const':
      return {
        path,
        received,
        expected: `exactly ${JSON.stringify(params['allowedValue'])}`,
        fix: `Use ${JSON.stringify(params['allowedValue'])}.`,
        keyword: error.keyword,
      };
    case 'type':
      return {
        path,
        received,
        expected: `a value of type ${String(params['type'])}${description}`,
        fix: `Give ${pathName(path)} as ${article(String(params['type']))}.`,
        keyword: error.keyword,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const operator = { minimum: '>=', maximum: '<=', exclusiveMinimum: '>', exclusiveMaximum: '<' }[error.keyword];
      return {
        path,
        received,
        expected: `a number ${operator} ${String(params['limit'])}${description}`,
        fix: `Set ${pathName(path)} to a number ${operator} ${String(params['limit'])}.`,
        keyword: error.keyword,
      };
    }
    case 'minItems':
    case 'maxItems':
    case 'minLength':
    case 'maxLength':
    case 'minProperties':
      return {
        path,
        received,
        expected: `${error.message ?? error.keyword}${description}`,
        fix: `Change ${pathName(path)} so that it ${error.message ?? 'matches the schema'}.`,
        keyword: error.keyword,
      };
    default:
      return {
        path,
        received,
        expected: `${error.message ?? error.keyword}${description}`,
        fix: `Change ${pathName(path)} so that it ${error.message ?? 'matches the schema'}.`,
        keyword: error.keyword,
      };
  }
}

/** Drops the generic 'anyOf'/'oneOf' summaries when a more precise issue exists at the same path. */
function dropRedundant(issues: OptionIssue[]): OptionIssue[] {
  return issues.filter(
    (issue) =>
      !(issue.keyword === 'anyOf' || issue.keyword === 'oneOf') ||
      !issues.some((other) => other !== issue && other.path.startsWith(issue.path) && other.keyword !== issue.keyword),
  );
}

function pathName(path: string): string {
  return path === '' ? 'the value' : `'${path.split('/').pop()}'`;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Returns the candidate closest to `word` by edit distance, when it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps cost 1. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const distance: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: columns }, (__, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < columns; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(distance[i - 1]![j]! + 1, distance[i]![j - 1]! + 1, distance[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, distance[i - 2]![j - 2]! + 1);
      }
      distance[i]![j] = best;
    }
  }
  return distance[a.length]![b.length]!;
}

/** Formats one issue as a sentence: path, value received, what is allowed, the fix. */
export function formatIssue(issue: OptionIssue, subject: string): string {
  const received = issue.received === undefined ? 'nothing' : describeValue(issue.received);
  return `${subject} at '${issue.path || '/'}': received ${received}, expected ${issue.expected}. ${issue.fix}`;
}
