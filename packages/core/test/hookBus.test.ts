import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';

import { definePlugin, ErrorCode, GradhooksError, HookBus, hookNames, hookTable, HookedOptimizer, mapGradients, Stage, TensorState } from '@gradhooks/core';
import type { GradientMap, PluginInstance, StepContext } from '@gradhooks/core';

import { tapPlugin, twoObjectiveProblem } from './helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  cleanups.splice(0).forEach((cleanup) => cleanup());
});

function problem() {
  const created = twoObjectiveProblem();
  cleanups.push(created.dispose);
  return created;
}

describe('hook table', () => {
  it('lists every hook in step order', () => {
    expect(hookNames).toEqual([
      'beginStep',
      'objectiveSources',
      'objectiveGradients',
      'aggregate',
      'gradients',
      'beforeApply',
      'afterApply',
      'representationGradients',
    ]);
  });

  it('builds each hook with its tapable class', () => {
    const bus = new HookBus();
    for (const name of hookNames) {
      const expected = { sync: 'SyncHook', waterfall: 'SyncWaterfallHook', bail: 'SyncBailHook' }[hookTable[name].kind];
      expect(bus.hooks[name].constructor.name).toBe(expected);
    }
  });

  it('gives plugins a view that taps but cannot call', () => {
    const view = new HookBus().tapView('viewer');
    for (const name of hookNames) {
      expect(typeof view[name].tap).toBe('function');
      expect((view[name] as unknown as Record<string, unknown>)['call']).toBeUndefined();
    }
    expect(Object.isFrozen(view)).toBe(true);
  });
});

describe('tap order', () => {
  it('follows stages, not registration order', () => {
    const { variables, objectives } = problem();
    const calls: string[] = [];
    const record = (label: string) => (gradients: GradientMap) => {
      calls.push(label);
      return gradients;
    };
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [
        tapPlugin('noise-like', () => ({ gradients: record('noise') }), { stage: Stage.NOISE }),
        tapPlugin('clip-like', () => ({ gradients: record('clip') }), { stage: Stage.CLIP }),
        tapPlugin('observer', () => ({ gradients: { fn: record('observe'), stage: Stage.OBSERVE } })),
        tapPlugin('guard-like', () => ({ objectiveGradients: (gradients) => (calls.push('guard'), gradients) }), { stage: Stage.GUARD }),
        tapPlugin('align-like', () => ({ objectiveGradients: (gradients) => (calls.push('align'), gradients) }), { stage: Stage.ALIGN }),
      ],
    });
    optimizer.step(objectives, { variables });
    expect(calls).toEqual(['guard', 'align', 'clip', 'noise', 'observe']);
    expect(optimizer.session.bus.describe().map((tap) => tap.plugin)).toEqual(['guard-like', 'align-like', 'clip-like', 'noise-like', 'observer']);
    optimizer.dispose();
  });
});

describe('tap errors', () => {
  it('name the plugin and the hook', () => {
    const { variables, objectives, values } = problem();
    const before = values();
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [
        tapPlugin('exploder', () => ({
          gradients: () => {
            throw new Error('boom');
          },
        })),
      ],
    });
    let caught: unknown;
    try {
      optimizer.step(objectives, { variables });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GradhooksError);
    const error = caught as GradhooksError;
    expect(error.code).toBe(ErrorCode.ERR_PLUGIN_FAILED);
    expect(error.plugin).toBe('exploder');
    expect(error.hook).toBe('gradients');
    expect(error.message).toContain("Plugin 'exploder' failed in hook 'gradients': boom");
    expect(error.message).toContain('No variable was changed');
    expect(values()).toEqual(before);
    optimizer.dispose();
  });

  it('reject an unknown hook with a suggestion', () => {
    let caught: unknown;
    try {
      new HookedOptimizer(tf.train.sgd(0.1), { plugins: [tapPlugin('typo', () => ({ gradeints: (g: GradientMap) => g }) as never)] });
    } catch (error) {
      caught = error;
    }
    const error = caught as GradhooksError;
    expect(error.code).toBe(ErrorCode.ERR_HOOK_UNKNOWN);
    expect(error.plugin).toBe('typo');
    expect(error.hook).toBe('gradeints');
    expect(error.fix).toBe("Rename 'gradeints' to 'gradients'.");
  });

  it('reject a gradient of the wrong shape', () => {
    const { variables, objectives, values } = problem();
    const before = values();
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [tapPlugin('reshaper', () => ({ gradients: (gradients) => mapGradients(gradients, (g) => tf.concat([tf.reshape(g, [-1]), tf.zeros([1])])) }))],
    });
    expect(() => optimizer.step(objectives, { variables })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_SHAPE_MISMATCH, plugin: 'reshaper', hook: 'gradients' }),
    );
    expect(values()).toEqual(before);
    optimizer.dispose();
  });

  it('reject dropped or reordered keys', () => {
    const { variables, objectives } = problem();
    const dropper = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [
        tapPlugin('dropper', () => ({
          gradients: (gradients) => Object.fromEntries(Object.entries(gradients).slice(1)),
        })),
      ],
    });
    expect(() => dropper.step(objectives, { variables })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_KEYS_CHANGED, plugin: 'dropper' }));
    dropper.dispose();
    const reorderer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [
        tapPlugin('reorderer', () => ({
          gradients: (gradients) => Object.fromEntries(Object.entries(gradients).reverse()),
        })),
      ],
    });
    expect(() => reorderer.step(objectives, { variables })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_KEYS_CHANGED, plugin: 'reorderer' }));
    reorderer.dispose();
  });

  it('reject gradients for unknown variables', () => {
    const { variables, objectives } = problem();
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [
        tapPlugin('inventor', () => ({
          objectiveGradients: (gradients) => ({ ...gradients, left: { ...gradients['left'], 'no/such/variable': tf.zeros([1]) } }),
        })),
      ],
    });
    expect(() => optimizer.step(objectives, { variables })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_GRADIENT_UNKNOWN_VARIABLE, plugin: 'inventor', variable: 'no/such/variable' }),
    );
    optimizer.dispose();
  });

  it('accept a dry-run plugin beside one of its group', () => {
    const group = { exclusiveGroup: 'comparison' };
    expect(() => new HookedOptimizer(tf.train.sgd(0.1), { plugins: [tapPlugin('first', () => ({}), group), tapPlugin('second', () => ({}), group)] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_PLUGIN_CONFLICT }),
    );
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [tapPlugin('first', () => ({}), group), tapPlugin('second', () => ({}), { ...group, dryRun: true })],
    });
    expect(optimizer.session.describe().map((plugin) => plugin.name)).toEqual(['first', 'second']);
    optimizer.dispose();
  });

  it('reject a second aggregator', () => {
    const aggregate = () => ({ aggregate: () => undefined });
    expect(() => new HookedOptimizer(tf.train.sgd(0.1), { plugins: [tapPlugin('first', aggregate), tapPlugin('second', aggregate)] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_PLUGIN_CONFLICT }),
    );
  });
});

describe('skips', () => {
  it('stop later taps and the optimizer', () => {
    const { variables, objectives, values } = problem();
    const before = values();
    const calls: string[] = [];
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [
        tapPlugin('skipper', () => ({ gradients: (_g: GradientMap, step: StepContext) => step.skip('testing a skip') }), { stage: Stage.CLIP }),
        tapPlugin('later', () => ({
          gradients: (gradients) => {
            calls.push('later');
            return gradients;
          },
          afterApply: () => {
            calls.push('afterApply');
          },
        }), { stage: Stage.NOISE }),
      ],
    });
    const skips: unknown[] = [];
    optimizer.telemetry.on('skip', (event) => skips.push(event));
    const result = optimizer.step(objectives, { variables });
    expect(result.applied).toBe(false);
    expect(result.skipReason).toBe('testing a skip');
    expect(result.skippedBy).toBe('skipper');
    expect(calls).toEqual([]);
    expect(values()).toEqual(before);
    expect(optimizer.session.stepCount).toBe(0);
    expect(optimizer.iterations).toBe(0);
    expect(skips).toEqual([{ step: 0, plugin: 'skipper', reason: 'testing a skip' }]);
    optimizer.dispose();
  });

  it('follow a string returned from beforeApply', () => {
    const { variables, objectives, values } = problem();
    const before = values();
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [tapPlugin('window', () => ({ beforeApply: () => 'partial window' }))],
    });
    const result = optimizer.step(objectives, { variables });
    expect(result).toMatchObject({ applied: false, skipReason: 'partial window', skippedBy: 'window' });
    expect(values()).toEqual(before);
    optimizer.dispose();
  });

  it('keep only the state the skipping plugin commits', () => {
    const { variables, objectives } = problem();
    let skipped = 0;
    let committedElsewhere = 0;
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [
        tapPlugin('staged', () => ({ objectiveGradients: (gradients, step) => (step.onCommit(() => (committedElsewhere += 1)), gradients) }), { stage: Stage.GUARD }),
        tapPlugin('counter', () => ({ objectiveGradients: (_g, step) => step.skip('count me', { commit: () => (skipped += 1) }) }), { stage: Stage.ACCUMULATE }),
      ],
    });
    optimizer.step(objectives, { variables });
    optimizer.step(objectives, { variables });
    expect(skipped).toBe(2);
    expect(committedElsewhere).toBe(0);
    optimizer.dispose();
  });
});

describe('dry run', () => {
  it('reports the change without applying it', () => {
    const first = problem();
    const second = problem();
    const plain = new HookedOptimizer(tf.train.sgd(0.1));
    const dry = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [tapPlugin('halver', () => ({ gradients: (gradients) => mapGradients(gradients, (g) => tf.mul(g, 0.5)) }), { dryRun: true })],
    });
    const events: Array<{ relativeChange?: number; plugin?: string }> = [];
    dry.telemetry.on('dryRun', (event) => events.push(event));
    plain.step(first.objectives, { variables: first.variables });
    dry.step(second.objectives, { variables: second.variables });
    expect(second.values()).toEqual(first.values());
    expect(events).toHaveLength(1);
    expect(events[0]!.plugin).toBe('halver');
    expect(events[0]!.relativeChange).toBeCloseTo(0.5, 6);
    plain.dispose();
    dry.dispose();
  });
});

describe('transactional step', () => {
  it('leaves variables, state, generators and memory unchanged when a tap throws', () => {
    const { variables, objectives, values } = problem();
    const state = new TensorState<tf.Tensor>(tf.scalar(1));
    cleanups.push(() => state.dispose());
    let fail = false;
    const draws: number[] = [];
    const optimizer = new HookedOptimizer(tf.train.adam(0.1), {
      plugins: [
        tapPlugin('stateful', () => ({
          objectiveGradients: (gradients, step) => {
            state.stage(step, tf.add(state.current!, 1));
            return gradients;
          },
        })),
        definePlugin({
          name: 'drawer',
          description: 'draws one number per step',
          options: { type: 'object', properties: {}, additionalProperties: false },
          create: (_options, context) => ({
            objectiveGradients: (gradients) => {
              draws.push(context.random.int(0, 1_000_000));
              return gradients;
            },
          }),
        })(),
        tapPlugin('fragile', () => ({
          gradients: (gradients) => {
            if (fail) {
              throw new Error('fails on purpose');
            }
            return gradients;
          },
        })),
      ],
    });
    optimizer.step(objectives, { variables });
    optimizer.step(objectives, { variables });
    const tensorsBefore = tf.memory().numTensors;
    const valuesBefore = values();
    const stateBefore = state.current!.dataSync()[0]!;

    fail = true;
    expect(() => optimizer.step(objectives, { variables })).toThrowError(expect.objectContaining({ plugin: 'fragile' }));
    expect(values()).toEqual(valuesBefore);
    expect(state.current!.dataSync()[0]).toBe(stateBefore);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(optimizer.session.stepCount).toBe(2);

    fail = false;
    optimizer.step(objectives, { variables });
    expect(state.current!.dataSync()[0]).toBe(stateBefore + 1);
    // The failed step drew draws[2]; the generator was rolled back, so the next step draws the same number.
    expect(draws).toHaveLength(4);
    expect(draws[3]).toBe(draws[2]);
    expect(draws[2]).not.toBe(draws[1]);
    optimizer.dispose();
  });
});

describe('dry-run aggregators', () => {
  it('run even when listed after the real one', () => {
    const { variables, objectives } = problem();
    const real = () => ({ aggregate: (gradients: Record<string, GradientMap>) => gradients['right'] });
    const shadow = () => ({ aggregate: (gradients: Record<string, GradientMap>) => gradients['left'] });
    const optimizer = new HookedOptimizer(tf.train.sgd(0.1), {
      plugins: [tapPlugin('real', real, { exclusiveGroup: 'aggregator' }), tapPlugin('shadow', shadow, { exclusiveGroup: 'aggregator', dryRun: true })],
    });
    const dryRuns: Array<{ plugin?: string }> = [];
    optimizer.telemetry.on('dryRun', (event) => dryRuns.push(event));
    optimizer.step(objectives, { variables });
    expect(dryRuns.map((event) => event.plugin)).toEqual(['shadow']);
    optimizer.dispose();
  });
});

describe('tap contract checks', () => {
  const cases: Array<[string, () => PluginInstance, string]> = [
    ['async', () => ({ gradients: (async (gradients: GradientMap) => gradients) as never }), 'Promise'],
    ['integer', () => ({ gradients: (gradients: GradientMap) => mapGradients(gradients, (g) => tf.cast(g, 'int32')) }), 'int32'],
    [
      'disposer',
      () => ({
        gradients: (gradients: GradientMap) => {
          tf.dispose(Object.values(gradients).filter((tensor): tensor is tf.Tensor => tensor !== null));
          return gradients;
        },
      }),
      'disposed',
    ],
  ];
  for (const [name, create, word] of cases) {
    it(`reject a ${name} tap`, () => {
      const { variables, objectives, values } = problem();
      const before = values();
      const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [tapPlugin(name, create)] });
      let caught: { plugin?: string; message: string } | undefined;
      try {
        optimizer.step(objectives, { variables });
      } catch (error) {
        caught = error as typeof caught;
      }
      expect(caught?.plugin).toBe(name);
      expect(caught?.message).toContain(word);
      expect(values()).toEqual(before);
      optimizer.dispose();
    });
  }
});
