import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { ErrorCode } from '@gradhooks/core';
import { BACKEND_ENVIRONMENT_VARIABLE, selectBackend } from '@gradhooks/core/node';

afterEach(async () => {
  delete process.env[BACKEND_ENVIRONMENT_VARIABLE];
  await tf.setBackend('wasm');
});

describe('selectBackend', () => {
  it('falls back past the native packages to wasm', async () => {
    const selection = await selectBackend();
    // tfjs-node and tfjs-node-gpu are optional peers that cannot install on these machines.
    expect(selection.skipped.map((entry) => entry.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(selection.skipped.every((entry) => entry.reason.length > 0)).toBe(true);
    expect(selection.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('honours a forced backend', async () => {
    const selection = await selectBackend({ force: 'cpu' });
    expect(selection).toEqual({ backend: 'cpu', package: '@tensorflow/tfjs-backend-cpu', skipped: [] });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('reads the environment variable', async () => {
    process.env[BACKEND_ENVIRONMENT_VARIABLE] = 'cpu';
    expect((await selectBackend()).backend).toBe('cpu');
  });

  it('rejects an unknown environment value', async () => {
    process.env[BACKEND_ENVIRONMENT_VARIABLE] = 'tpu';
    await expect(selectBackend()).rejects.toMatchObject({ code: ErrorCode.ERR_OPTIONS_INVALID, received: 'tpu' });
  });

  it('fails with the reason when a forced package is missing', async () => {
    await expect(selectBackend({ force: 'node' })).rejects.toMatchObject({
      code: ErrorCode.ERR_OPTIONS_INVALID,
      fix: expect.stringContaining('@tensorflow/tfjs-node'),
    });
  });

  it('is not run on import', async () => {
    await tf.setBackend('cpu');
    await import('@gradhooks/core');
    await import('@gradhooks/core/node');
    expect(tf.getBackend()).toBe('cpu');
  });
});
