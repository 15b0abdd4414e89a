import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode, HookedOptimizer } from '@gradhooks/core';
import { accumulate, emaDecay, emaWeights, emaWeightsOf } from '@gradhooks/plugin-clip';
import type { WeightAverageState } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

import { regressionCase, subcase } from '../../../test/helpers/specs.js';
import { collect, gradientFeeder, uniquePrefix } from './helpers.js';

type Feeder = ReturnType<typeof gradientFeeder>;

/** Moves `w` along `path` (its values after each step) with SGD at learning rate 1. */
function walk(feeder: Feeder, path: number[][]): void {
  for (const target of path) {
    const current = feeder.values()['w']!;
    feeder.step({ w: current.map((value, i) => value - target[i]!) });
  }
}

function averageOf(feeder: Feeder, name = 'w'): number[] {
  const average = emaWeightsOf(feeder.optimizer)!.average(feeder.full(name))!;
  const values = Array.from(average.dataSync());
  average.dispose();
  return values;
}

describe('ema-weights regression cases', () => {
  it('B13 starts from the current weights', () => {
    const entry = subcase('B13', 'weights EMA');
    const input = entry['input'] as { decay: number; weights: number[][] };
    const expected = entry['expected'] as { shadow_after_step: number[][] };
    const feeder = gradientFeeder([emaWeights({ decay: input.decay })], { w: input.weights[0] });
    input.weights.slice(1).forEach((target, i) => {
      walk(feeder, [target]);
      assertAllClose(averageOf(feeder), expected.shadow_after_step[i], { atol: entry['atol'] as number, rtol: entry['rtol'] as number, label: `step ${i + 1}` });
    });
    feeder.dispose();
  });

  it('B13 zero start with bias correction', () => {
    const entry = subcase('B13', 'zero-init with bias correction');
    const input = entry['input'] as { decay: number; weights: number[][] };
    const expected = entry['expected'] as { corrected_after_step: number[][] };
    const feeder = gradientFeeder([emaWeights({ decay: input.decay, biasCorrection: true })], { w: input.weights[0] });
    input.weights.slice(1).forEach((target, i) => {
      walk(feeder, [target]);
      assertAllClose(averageOf(feeder), expected.corrected_after_step[i], { atol: entry['atol'] as number, rtol: entry['rtol'] as number, label: `step ${i + 1}` });
    });
    feeder.dispose();
  });

  it('B14 warm-up schedule', () => {
    const entry = subcase('B14', 'schedule');
    const input = entry['input'] as { decay: number };
    const expected = entry['expected'] as { decay_t1_to_t5: number[]; decay_t1000: number; decay_t10000: number };
    const tolerance = { atol: entry['atol'] as number, rtol: entry['rtol'] as number };
    assertAllClose([1, 2, 3, 4, 5].map((t) => emaDecay(input.decay, t, true)), expected.decay_t1_to_t5, tolerance);
    assertAllClose(emaDecay(input.decay, 1000, true), expected.decay_t1000, tolerance);
    assertAllClose(emaDecay(input.decay, 10000, true), expected.decay_t10000, tolerance);
    expect(emaDecay(input.decay, 1, false)).toBe(input.decay);
  });

  it('B14 warm-up trajectory', () => {
    const entry = subcase('B14', 'trajectory');
    const input = entry['input'] as { decay: number; shadow0: number; weights_after_steps: number[] };
    const expected = entry['expected'] as { shadow: number[] };
    const feeder = gradientFeeder([emaWeights({ decay: input.decay, warmup: true })], { w: [input.shadow0] });
    const states = collect(feeder.optimizer, 'state');
    input.weights_after_steps.forEach((target, i) => {
      walk(feeder, [[target]]);
      assertAllClose(averageOf(feeder), [expected.shadow[i]], { atol: entry['atol'] as number, rtol: entry['rtol'] as number, label: `step ${i + 1}` });
    });
    // The configured decay is not overwritten by the schedule.
    expect(emaWeightsOf(feeder.optimizer)!.decay).toBe(input.decay);
    expect(states.map((event) => event.values['updates'])).toEqual([1, 2, 3]);
    feeder.dispose();
  });

  it('B14 decay changed at run time', () => {
    const entry = subcase('B14', 'decay changed at runtime');
    const next = (entry['expected'] as { next_update_uses: number }).next_update_uses;
    const feeder = gradientFeeder([emaWeights({ decay: 0.9 })], { w: [0] });
    const states = collect(feeder.optimizer, 'state');
    walk(feeder, [[1], [2], [3]]);
    const before = averageOf(feeder)[0]!;
    emaWeightsOf(feeder.optimizer)!.decay = next;
    walk(feeder, [[4]]);
    expect(states[3]!.values['decay']).toBe(next);
    assertAllClose(averageOf(feeder), [next * before + (1 - next) * 4], { rtol: 1e-6 });
    expect(() => {
      emaWeightsOf(feeder.optimizer)!.decay = 1;
    }).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID }));
    feeder.dispose();
  });

  it('B15 one update per optimizer step with accumulation', () => {
    const entry = regressionCase('B15').subcases![0]!;
    const config = entry['config'] as { plugins: Array<{ use: string; options: Record<string, unknown> }> };
    const input = entry['input'] as { micro_batches: number; w0: number; weights_after_optimizer_steps: number[] };
    const expected = entry['expected'] as { ema_updates: number; shadow: number; ema_step_counter: number };
    const feeder = gradientFeeder([accumulate(config.plugins[0]!.options as { steps: number }), emaWeights(config.plugins[1]!.options)], { w: [input.w0] });
    const states = collect(feeder.optimizer, 'state');
    const window = (config.plugins[0]!.options as { steps: number }).steps;
    let target = 0;
    for (let micro = 0; micro < input.micro_batches; micro++) {
      if (micro % window === 0) {
        target = input.weights_after_optimizer_steps[micro / window]!;
      }
      // Each micro-batch's gradient is the full move, so the window's average moves w to the target.
      feeder.step({ w: [feeder.values()['w']![0]! - target] });
    }
    expect(states.filter((event) => event.plugin === 'ema-weights')).toHaveLength(expected.ema_updates);
    expect(emaWeightsOf(feeder.optimizer)!.updates).toBe(expected.ema_step_counter);
    assertAllClose(averageOf(feeder), [expected.shadow], { atol: entry['atol'] as number, rtol: entry['rtol'] as number });
    feeder.dispose();
  });

  for (const mode of ['copy', 'average'] as const) {
    it(`B16 non-trainable variables, mode ${mode}`, () => {
      const entry = regressionCase('B16').subcases![0]!;
      const input = entry['input'] as { decay: number; nonTrainable: Record<string, number[]> };
      const expected = (entry['expected'] as Record<string, Record<string, number>>)[`mode_${mode}`]!;
      const [name, values] = Object.entries(input.nonTrainable)[0]!;
      const prefix = uniquePrefix(`b16${mode}`);
      const w = tf.variable(tf.tensor1d([1]), true, `${prefix}/w`);
      const moving = tf.variable(tf.scalar(values[0]!), false, `${prefix}/${name}`);
      const optimizer = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [emaWeights({ decay: input.decay, nonTrainable: mode, variables: [`${prefix}/**`] })] });
      // The forward pass updates the moving statistic, as BatchNormalization does in training.
      for (const value of values.slice(1)) {
        optimizer.step(
          {
            loss: () => {
              moving.assign(tf.scalar(value));
              return tf.sum(tf.square(w)) as tf.Scalar;
            },
          },
          { variables: [w] },
        );
      }
      const average = emaWeightsOf(optimizer)!;
      average.swapIn();
      assertAllClose(moving.dataSync()[0], expected[name], { atol: entry['atol'] as number, rtol: entry['rtol'] as number });
      average.restore();
      expect(moving.dataSync()[0]).toBe(values[values.length - 1]);
      optimizer.dispose();
      tf.dispose([w, moving]);
    });
  }
});

describe('ema-weights swapping', () => {
  it('swaps the averages in and the trained values back', async () => {
    const feeder = gradientFeeder([emaWeights({ decay: 0.5 })], { w: [0, 0] });
    walk(feeder, [[2, 4]]);
    const average = emaWeightsOf(feeder.optimizer)!;
    const before = tf.memory().numTensors;
    const seen = await average.withAveragedWeights(() => feeder.values()['w']);
    expect(seen).toEqual([1, 2]);
    expect(feeder.values()['w']).toEqual([2, 4]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(average.withAveragedWeights(() => Promise.reject(new Error('evaluation failed')))).rejects.toThrow('evaluation failed');
    expect(feeder.values()['w']).toEqual([2, 4]);
    expect(average.swapped).toBe(false);
    feeder.dispose();
  });

  it('rejects training while swapped in', () => {
    const feeder = gradientFeeder([emaWeights()], { w: [1] });
    feeder.step({ w: [1] });
    const average = emaWeightsOf(feeder.optimizer)!;
    average.swapIn();
    expect(() => average.swapIn()).toThrowError(expect.objectContaining({ plugin: 'ema-weights' }));
    expect(() => feeder.step({ w: [1] })).toThrowError(expect.objectContaining({ plugin: 'ema-weights', code: ErrorCode.ERR_PLUGIN_FAILED }));
    average.restore();
    expect(feeder.values()['w']).toEqual([0]);
    expect(() => average.restore()).toThrowError(expect.objectContaining({ plugin: 'ema-weights' }));
    feeder.dispose();
  });

  it('tracks only the selected variables', () => {
    const feeder = gradientFeeder([emaWeights({ variables: ['**/w'] })], { w: [1], v: [1] });
    feeder.step({ w: [1], v: [1] });
    expect(emaWeightsOf(feeder.optimizer)!.variableNames()).toEqual([feeder.full('w')]);
    feeder.dispose();
  });

  it('is found by instance name', () => {
    const feeder = gradientFeeder([emaWeights({ decay: 0.5 }), emaWeights({ decay: 0.9 })], { w: [0] });
    expect(emaWeightsOf(feeder.optimizer, 'ema-weights#3')).toBeUndefined();
    expect(emaWeightsOf(feeder.optimizer)!.decay).toBe(0.5);
    feeder.step({ w: [-1] });
    expect(emaWeightsOf(feeder.optimizer)!.decay).toBe(0.5);
    expect(emaWeightsOf(feeder.optimizer.session, 'ema-weights#2')!.decay).toBe(0.9);
    feeder.dispose();
  });

  it('rejects dryRun', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(1), { plugins: [emaWeights({ dryRun: true })] })).toThrowError(
      expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/dryRun' }),
    );
  });

  it('saves products and decays as numbers', async () => {
    const feeder = gradientFeeder([emaWeights({ decay: 0.5, biasCorrection: true })], { w: [0] });
    walk(feeder, [[1], [2]]);
    const state = JSON.parse(JSON.stringify((await feeder.optimizer.saveCheckpoint()).plugins[0]!.state)) as WeightAverageState;
    expect(state.updates).toBe(2);
    expect(state.averages[feeder.full('w')]!.product).toBe(0.25);
    expect(state.averages[feeder.full('w')]!.value.dtype).toBe('float32');
    feeder.dispose();
  });
});

describe('ema-weights after dispose', () => {
  it('rejects swapping the averages in', async () => {
    const feeder = gradientFeeder([emaWeights({ decay: 0.5 })], { w: [0] });
    feeder.step({ w: [-1] });
    const average = emaWeightsOf(feeder.optimizer)!;
    feeder.dispose();
    expect(() => average.swapIn()).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_SESSION_DISPOSED, plugin: 'ema-weights' }));
    await expect(average.withAveragedWeights(() => 1)).rejects.toMatchObject({ code: ErrorCode.ERR_SESSION_DISPOSED });
  });
});
