import * as tf from '@tensorflow/tfjs-core';

import { ErrorCode, GradhooksError } from '../errors.js';

/** Backends `selectBackend` can pick, in its default order of preference. */
export const backendCandidates = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendCandidate = (typeof backendCandidates)[number];

const packages: Record<BackendCandidate, { specifier: string; backend: string }> = {
  'node-gpu': { specifier: '@tensorflow/tfjs-node-gpu', backend: 'tensorflow' },
  node: { specifier: '@tensorflow/tfjs-node', backend: 'tensorflow' },
  wasm: { specifier: '@tensorflow/tfjs-backend-wasm', backend: 'wasm' },
  cpu: { specifier: '@tensorflow/tfjs-backend-cpu', backend: 'cpu' },
};

/** Environment variable that forces one backend: node-gpu, node, wasm or cpu. */
export const BACKEND_ENVIRONMENT_VARIABLE = 'GRADHOOKS_BACKEND';

/** Result of `selectBackend`. */
export interface BackendSelection {
  /** tfjs backend name now active (`tensorflow`, `wasm` or `cpu`). */
  backend: string;
  /** Package that provided it. */
  package: string;
  /** Candidates tried before it, with the reason each failed. */
  skipped: Array<{ package: string; reason: string }>;
}

/**
 * Picks and activates the fastest backend that loads here:
 * `@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node` (both optional
 * peers; a package installed without its native addon counts as absent), then
 * `@tensorflow/tfjs-backend-wasm`, then the pure-JS `cpu` backend.
 * `force`, or the GRADHOOKS_BACKEND environment variable, selects one
 * candidate and fails if it cannot load. Importing gradhooks never changes
 * the backend; only this call does.
 */
export async function selectBackend(options: { force?: BackendCandidate; quiet?: boolean } = {}): Promise<BackendSelection> {
  const forcedValue = options.force ?? readForced();
  const order: readonly BackendCandidate[] = forcedValue === undefined ? backendCandidates : [forcedValue];
  const skipped: BackendSelection['skipped'] = [];
  if (options.quiet ?? true) {
    // Silences tfjs's advice banner about tfjs-node; it also turns off debug mode, which is off by default.
    tf.enableProdMode();
  }
  for (const candidate of order) {
    const { specifier, backend } = packages[candidate];
    try {
      await import(/* @vite-ignore */ specifier);
      if (tf.findBackendFactory(backend) === null) {
        skipped.push({ package: specifier, reason: `the package did not register backend '${backend}'` });
        continue;
      }
      if (!(await tf.setBackend(backend))) {
        skipped.push({ package: specifier, reason: `backend '${backend}' failed to initialize` });
        continue;
      }
      await tf.ready();
      return { backend, package: specifier, skipped };
    } catch (error) {
      skipped.push({ package: specifier, reason: error instanceof Error ? error.message.split('\n')[0]! : String(error) });
    }
  }
  const detail = skipped.map((entry) => `${entry.package}: ${entry.reason}`).join('; ');
  throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `No TensorFlow.js backend could be loaded (${detail}).`, {
    received: forcedValue ?? order.join(', '),
    expected: 'an installed backend package',
    fix:
      forcedValue === undefined
        ? 'Install @tensorflow/tfjs-backend-wasm or @tensorflow/tfjs-backend-cpu (both ship with @tensorflow/tfjs).'
        : `Install ${packages[forcedValue].specifier}, or unset ${BACKEND_ENVIRONMENT_VARIABLE}.`,
  });
}

function readForced(): BackendCandidate | undefined {
  const value = process.env[BACKEND_ENVIRONMENT_VARIABLE];
  if (value === undefined || value === '') {
    return undefined;
  }
  if (!(backendCandidates as readonly string[]).includes(value)) {
    throw new GradhooksError(
      ErrorCode.ERR_OPTIONS_INVALID,
      `${BACKEND_ENVIRONMENT_VARIABLE}=${value} names no backend.`,
      { received: value, expected: backendCandidates.join(', '), fix: `Set ${BACKEND_ENVIRONMENT_VARIABLE} to one of ${backendCandidates.join(', ')}, or unset it.` },
    );
  }
  return value as BackendCandidate;
}
