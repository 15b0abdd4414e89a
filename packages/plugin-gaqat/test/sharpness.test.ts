import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode, HookedOptimizer } from '@gradhooks/core';
import type { PluginSpec, SessionOptions, StateEvent } from '@gradhooks/core';
import { sam, sharpness, sharpnessPerturbation } from '@gradhooks/plugin-gaqat';
import { assertAllClose } from '@gradhooks/testing';

import { observer, uniquePrefix } from './harness.js';
import type { ObservedStep } from './harness.js';

const curvature = [1, 3, 0.5];
const start = [1, 2, -4];
const rho = 0.1;

/** L(w) = 0.5 Σ a·w², so ∇L(w) = a·w: every gradient below has a closed form. */
function quadratic(options: { plugins: PluginSpec[]; session?: Omit<SessionOptions, 'plugins'>; failOnCall?: number; learningRate?: number }) {
  const prefix = uniquePrefix('sh');
  const weights = tf.tidy(() => tf.variable(tf.tensor1d(start), true, `${prefix}/w`));
  const a = tf.tensor1d(curvature);
  const steps: ObservedStep[] = [];
  const optimizer = new HookedOptimizer(tf.train.sgd(options.learningRate ?? 1), { ...options.session, plugins: [...options.plugins, observer(prefix, steps)] });
  let calls = 0;
  const loss = () => {
    calls += 1;
    if (calls === options.failOnCall) {
      throw new Error('loss failed on purpose');
    }
    return tf.mul(0.5, tf.sum(tf.mul(a, tf.square(weights)))) as tf.Scalar;
  };
  return {
    weights,
    steps,
    optimizer,
    loss,
    calls: () => calls,
    dispose: () => {
      optimizer.dispose();
      tf.dispose([weights, a]);
    },
  };
}

/** ε = ρ·g/‖g‖ for g = a·w, in float64. */
function plainPerturbation(w: readonly number[]): number[] {
  const g = w.map((value, i) => curvature[i]! * value);
  const norm = Math.sqrt(g.reduce((total, value) => total + value * value, 0));
  return g.map((value) => (rho * value) / norm);
}

const lossAt = (w: readonly number[]) => 0.5 * w.reduce((total, value, i) => total + curvature[i]! * value * value, 0);
const gradientAt = (w: readonly number[]) => w.map((value, i) => curvature[i]! * value);

describe('sharpness objective on a quadratic', () => {
  it('adds the gradient at the perturbed weights', () => {
    const run = quadratic({ plugins: [sharpness({ rho })] });
    try {
      const result = run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
      const epsilon = plainPerturbation(start);
      const perturbed = start.map((value, i) => value + epsilon[i]!);
      const step = run.steps[0]!;
      expect(Object.keys(step.objectives)).toEqual(['task', 'smoothness']);
      assertAllClose(step.objectives['task']!['w']!, gradientAt(start), { label: 'task' });
      assertAllClose(step.objectives['smoothness']!['w']!, gradientAt(perturbed), { label: 'smoothness' });
      assertAllClose(result.losses['task']!, lossAt(start), { label: 'task loss' });
      assertAllClose(result.losses['smoothness']!, lossAt(perturbed), { label: 'smoothness loss' });
      assertAllClose(step.combined['w']!, gradientAt(start).map((value, i) => value + gradientAt(perturbed)[i]!), { label: 'combined' });
    } finally {
      run.dispose();
    }
  });

  it('gap form adds the surrogate gap', () => {
    const run = quadratic({ plugins: [sharpness({ rho, form: 'gap' })] });
    try {
      const result = run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
      const epsilon = plainPerturbation(start);
      const perturbed = start.map((value, i) => value + epsilon[i]!);
      assertAllClose(run.steps[0]!.objectives['smoothness']!['w']!, gradientAt(epsilon), { label: 'gap gradient a·ε' });
      assertAllClose(result.losses['smoothness']!, lossAt(perturbed) - lossAt(start), { rtol: 1e-4, label: 'gap value' });
      // Task plus gap is plain SAM.
      assertAllClose(run.steps[0]!.combined['w']!, gradientAt(perturbed), { label: 'combined equals SAM' });
    } finally {
      run.dispose();
    }
  });

  it('adaptive form scales by |w| + eta', () => {
    const eta = 0.01;
    const run = quadratic({ plugins: [sharpness({ rho, adaptive: true, eta })] });
    try {
      run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
      const g = gradientAt(start);
      const scale = start.map((value) => Math.abs(value) + eta);
      const norm = Math.sqrt(g.reduce((total, value, i) => total + (scale[i]! * value) ** 2, 0));
      const perturbed = start.map((value, i) => value + (rho * scale[i]! ** 2 * g[i]!) / norm);
      assertAllClose(run.steps[0]!.objectives['smoothness']!['w']!, gradientAt(perturbed), { label: 'adaptive smoothness' });
    } finally {
      run.dispose();
    }
  });

  it('computes the task gradient once per step', () => {
    const run = quadratic({ plugins: [sharpness({ rho })] });
    try {
      run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
      run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
      expect(run.calls()).toBe(4);
    } finally {
      run.dispose();
    }
  });

  it('reports loss before and after the perturbation', () => {
    const run = quadratic({ plugins: [sharpness({ rho })] });
    const states: StateEvent[] = [];
    run.optimizer.telemetry.on('state', (event) => states.push(event));
    try {
      run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
      const epsilon = plainPerturbation(start);
      expect(states).toHaveLength(1);
      expect(states[0]!.plugin).toBe('sharpness');
      assertAllClose(states[0]!.values['loss'] as number, lossAt(start), { label: 'loss' });
      assertAllClose(states[0]!.values['perturbedLoss'] as number, lossAt(start.map((value, i) => value + epsilon[i]!)), { label: 'perturbed loss' });
    } finally {
      run.dispose();
    }
  });
});

describe('sam plugin', () => {
  it('applies the perturbed gradient', () => {
    const run = quadratic({ plugins: [sam({ rho })] });
    try {
      const result = run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
      const epsilon = plainPerturbation(start);
      const samGradient = gradientAt(start.map((value, i) => value + epsilon[i]!));
      expect(Object.keys(run.steps[0]!.objectives)).toEqual(['task']);
      assertAllClose(run.steps[0]!.combined['w']!, samGradient, { label: 'SAM gradient' });
      // SGD with learning rate 1 moves w by exactly the SAM gradient, from the unperturbed w.
      assertAllClose(run.weights, start.map((value, i) => value - samGradient[i]!), { label: 'weights after the step' });
      assertAllClose(result.losses['task']!, lossAt(start), { label: 'reported loss is L(w)' });
    } finally {
      run.dispose();
    }
  });
});

describe('sharpness weight restoration', () => {
  it('leaves weights bit-identical', () => {
    const run = quadratic({ plugins: [sharpness({ rho })], learningRate: 0 });
    try {
      const seen: Uint32Array[] = [];
      const probe = () => {
        // The first call reads w, the second w + ε.
        seen.push(new Uint32Array(Float32Array.from(run.weights.dataSync()).buffer));
        return run.loss();
      };
      run.optimizer.step({ task: probe }, { variables: [run.weights] });
      const after = new Uint32Array(Float32Array.from(run.weights.dataSync()).buffer);
      expect(seen).toHaveLength(2);
      expect(seen[1]).not.toEqual(seen[0]);
      expect(after).toEqual(seen[0]);
    } finally {
      run.dispose();
    }
  });

  it('restores weights when the perturbed pass fails', () => {
    for (const plugin of [sharpness({ rho }), sam({ rho })]) {
      const run = quadratic({ plugins: [plugin], failOnCall: 2 });
      try {
        const before = Array.from(run.weights.dataSync());
        expect(() => run.optimizer.step({ task: run.loss }, { variables: [run.weights] })).toThrow(/loss failed on purpose/);
        expect(Array.from(run.weights.dataSync())).toEqual(before);
        expect(run.optimizer.iterations).toBe(0);
      } finally {
        run.dispose();
      }
    }
  });
});

describe('sharpness objectives and options', () => {
  it('works with declared task and smoothness', () => {
    const run = quadratic({ plugins: [sharpness({ rho })], session: { objectives: ['task', 'smoothness'] } });
    try {
      expect(run.optimizer.step({ task: run.loss }, { variables: [run.weights] }).applied).toBe(true);
    } finally {
      run.dispose();
    }
    const strict = quadratic({ plugins: [sharpness({ rho })], session: { objectives: ['task'] } });
    try {
      expect(() => strict.optimizer.step({ task: strict.loss }, { variables: [strict.weights] })).toThrowError(
        expect.objectContaining({ code: ErrorCode.ERR_OBJECTIVE_MISMATCH }),
      );
    } finally {
      strict.dispose();
    }
  });

  it('needs objective with several objectives', () => {
    const run = quadratic({ plugins: [sharpness({ rho })] });
    try {
      expect(() => run.optimizer.step({ left: run.loss, right: run.loss }, { variables: [run.weights] })).toThrowError(
        expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/objective' }),
      );
    } finally {
      run.dispose();
    }
    const named = quadratic({ plugins: [sharpness({ rho, objective: 'left' })] });
    try {
      named.optimizer.step({ left: named.loss, right: named.loss }, { variables: [named.weights] });
      expect(Object.keys(named.steps[0]!.objectives)).toEqual(['left', 'right', 'smoothness']);
    } finally {
      named.dispose();
    }
  });

  it('rejects unknown and colliding objective names', () => {
    const run = quadratic({ plugins: [sharpness({ rho, objective: 'main' })] });
    try {
      expect(() => run.optimizer.step({ task: run.loss }, { variables: [run.weights] })).toThrowError(expect.objectContaining({ path: '/objective' }));
    } finally {
      run.dispose();
    }
    const colliding = quadratic({ plugins: [sharpness({ rho })] });
    try {
      expect(() => colliding.optimizer.step({ task: colliding.loss, smoothness: colliding.loss }, { variables: [colliding.weights] })).toThrowError(
        expect.objectContaining({ path: '/smoothness' }),
      );
    } finally {
      colliding.dispose();
    }
  });

  it('rejects invalid options', () => {
    expect(() => sharpness({ rho: 0 })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: '/rho' }));
    expect(() => sam({ rho: -1 })).toThrowError(expect.objectContaining({ path: '/rho' }));
    expect(() => sharpness({ form: 'sum' as never })).toThrowError(expect.objectContaining({ path: '/form' }));
    expect(() => sam({ eta: -0.1 })).toThrowError(expect.objectContaining({ path: '/eta' }));
  });

  it('cannot be combined with sam', () => {
    expect(() => new HookedOptimizer(tf.train.sgd(0), { plugins: [sam(), sharpness()] })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_PLUGIN_CONFLICT }));
  });

  it('keeps the tensor count steady and frees everything', () => {
    for (const plugin of [sharpness({ rho }), sharpness({ rho, form: 'gap', adaptive: true }), sam({ rho })]) {
      const before = tf.memory().numTensors;
      const run = quadratic({ plugins: [plugin] });
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) {
        run.optimizer.step({ task: run.loss }, { variables: [run.weights] });
        counts.push(tf.memory().numTensors);
      }
      expect(new Set(counts.slice(1)).size).toBe(1);
      run.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('sharpnessPerturbation', () => {
  it('gives a zero step for a zero gradient', () => {
    const epsilon = sharpnessPerturbation({ a: tf.zeros([3]) }, {}, { rho: 1, adaptive: false, eta: 0 });
    expect(Array.from(epsilon['a']!.dataSync())).toEqual([0, 0, 0]);
  });

  it('uses one norm over all variables', () => {
    const epsilon = sharpnessPerturbation({ a: tf.tensor1d([3]), b: tf.tensor1d([4]) }, {}, { rho: 1, adaptive: false, eta: 0 });
    assertAllClose(epsilon['a']!, [0.6], { label: 'a' });
    assertAllClose(epsilon['b']!, [0.8], { label: 'b' });
  });
});
