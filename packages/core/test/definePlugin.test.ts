import { describe, expect, it } from 'vitest';

import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';

const schema = {
  type: 'object',
  properties: {
    mode: { type: 'string', enum: ['fast', 'exact'], default: 'exact', description: 'how to compute' },
    limit: { type: 'number', exclusiveMinimum: 0, description: 'upper bound' },
  },
  required: ['limit'],
  additionalProperties: false,
} as const;

const example = definePlugin({ name: 'example', description: 'an example', options: schema, create: () => ({}) });

function optionError(options: unknown): GradhooksError & { issues: unknown[] } {
  try {
    example(options as never);
  } catch (error) {
    return error as GradhooksError & { issues: unknown[] };
  }
  throw new Error('expected the options to be rejected');
}

describe('definePlugin', () => {
  it('fills defaults and common options', () => {
    const spec = example({ limit: 2 } as never);
    expect(spec.options).toEqual({ mode: 'exact', limit: 2, variables: ['**'], dryRun: false });
    expect(Object.isFrozen(spec.options)).toBe(true);
    expect(example.definition.name).toBe('example');
  });

  it('rejects a misspelled option with a suggestion', () => {
    const error = optionError({ limit: 1, mdoe: 'fast' });
    expect(error.code).toBe(ErrorCode.ERR_OPTIONS_INVALID);
    expect(error.plugin).toBe('example');
    expect(error.path).toBe('/mdoe');
    expect(error.fix).toBe("Rename 'mdoe' to 'mode'.");
  });

  it('names the allowed values of an enum', () => {
    const error = optionError({ limit: 1, mode: 'quick' });
    expect(error.path).toBe('/mode');
    expect(error.received).toBe('quick');
    expect(error.expected).toBe('one of "fast", "exact" (how to compute)');
    expect(error.message).toContain("received \"quick\"");
  });

  it('names a missing required option', () => {
    const error = optionError({});
    expect(error.path).toBe('/limit');
    expect(error.expected).toContain('upper bound');
  });

  it('reports every problem at once', () => {
    const error = optionError({ limit: -1, mode: 3 });
    expect(error.issues.length).toBeGreaterThanOrEqual(2);
    expect(error.message.split('\n').length).toBe(error.issues.length);
  });

  it('validates the common options', () => {
    expect(optionError({ limit: 1, seed: -4 }).path).toBe('/seed');
    expect(optionError({ limit: 1, variables: 'shared/**' }).path).toBe('/variables');
    expect(optionError({ limit: 1, dryRun: 'yes' }).path).toBe('/dryRun');
  });

  it('rejects invalid definitions', () => {
    expect(() => definePlugin({ name: 'Not Kebab', description: '', options: schema, create: () => ({}) })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_PLUGIN_DEFINITION_INVALID }),
    );
    expect(() =>
      definePlugin({
        name: 'owns-seed',
        description: '',
        options: { type: 'object', properties: { seed: { type: 'number' } } },
        create: () => ({}),
      }),
    ).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_PLUGIN_DEFINITION_INVALID, received: 'seed' }));
  });
});

describe('plugin validate and api', () => {
  const bounded = definePlugin<{ low: number; high: number }>({
    name: 'bounded',
    description: 'two options that bound each other',
    options: { type: 'object', properties: { low: { type: 'number' }, high: { type: 'number' } }, required: ['low', 'high'], additionalProperties: false },
    validate: (options) =>
      options.low <= options.high ? [] : [{ path: '/low', received: options.low, expected: `a number <= high (${options.high})`, fix: 'Lower low.', keyword: 'validate' }],
    create: (options) => ({ api: { width: options.high - options.low } }),
  });

  it('reports cross-option problems like schema problems', () => {
    let caught: GradhooksError | undefined;
    try {
      bounded({ low: 3, high: 1 });
    } catch (error) {
      caught = error as GradhooksError;
    }
    expect(caught?.code).toBe(ErrorCode.ERR_OPTIONS_INVALID);
    expect(caught?.path).toBe('/low');
    expect(caught?.expected).toBe('a number <= high (1)');
    expect(bounded({ low: 1, high: 3 }).options['low']).toBe(1);
  });

  it('exposes a plugin api by instance name', async () => {
    const tf = await import('@tensorflow/tfjs');
    const { HookedOptimizer } = await import('@gradhooks/core');
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [bounded({ low: 1, high: 4 }), bounded({ low: 0, high: 1 })] });
    expect(optimizer.plugin<{ width: number }>('bounded')?.width).toBe(3);
    expect(optimizer.plugin<{ width: number }>('bounded#2')?.width).toBe(1);
    expect(optimizer.plugin('missing')).toBeUndefined();
    optimizer.dispose();
  });
});
