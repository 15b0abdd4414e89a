import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { HookedOptimizer } from '@gradhooks/core';
import { accumulate } from '@gradhooks/plugin-clip';
import { assertAllClose } from '@gradhooks/testing';

import { gradientFeeder, uniquePrefix } from './helpers.js';

const gradient = fc.array(fc.double({ min: -100, max: 100, noNaN: true }).map(Math.fround), { minLength: 3, maxLength: 3 });

describe('accumulate properties', () => {
  it('N equal micro-batches equal one batch', () => {
    fc.assert(
      fc.property(gradient, fc.integer({ min: 1, max: 6 }), (values, steps) => {
        const accumulated = gradientFeeder([accumulate({ steps })], { w: [1, 2, 3] }, { inner: tf.train.adam(0.1) });
        const single = gradientFeeder([], { w: [1, 2, 3] }, { inner: tf.train.adam(0.1) });
        for (let i = 0; i < steps; i++) {
          accumulated.step({ w: values });
        }
        single.step({ w: values });
        assertAllClose(accumulated.values()['w'], single.values()['w'], { rtol: 1e-6, atol: 1e-7 });
        if ((steps & (steps - 1)) === 0) {
          // Sums of 2^k equal values divided by 2^k are exact in float32.
          expect(accumulated.values()).toEqual(single.values());
        }
        accumulated.dispose();
        single.dispose();
      }),
      { numRuns: 30, seed: 71 },
    );
  });

  it('micro-batch averages equal the full-batch gradient', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 1000 }), (steps, seed) => {
        const size = 3;
        const x = tf.randomNormal([steps * size, 4], 0, 1, 'float32', seed);
        const y = tf.randomNormal([steps * size, 2], 0, 1, 'float32', seed + 1);
        const prefix = uniquePrefix('batch');
        const initial = tf.randomNormal([4, 2], 0, 1, 'float32', seed + 2);
        const wMicro = tf.variable(initial, true, `${prefix}/micro`);
        const wFull = tf.variable(initial, true, `${prefix}/full`);
        const loss = (w: tf.Variable, xs: tf.Tensor, ys: tf.Tensor) => () => tf.mean(tf.square(tf.sub(tf.matMul(xs, w), ys))) as tf.Scalar;
        const micro = new HookedOptimizer(tf.train.sgd(0.1), { plugins: [accumulate({ steps })] });
        const full = new HookedOptimizer(tf.train.sgd(0.1));
        for (let k = 0; k < steps; k++) {
          const [xs, ys] = [x.slice([k * size, 0], [size, 4]), y.slice([k * size, 0], [size, 2])];
          micro.step({ loss: loss(wMicro, xs, ys) }, { variables: [wMicro] });
          tf.dispose([xs, ys]);
        }
        full.step({ loss: loss(wFull, x, y) }, { variables: [wFull] });
        assertAllClose(wMicro, wFull.arraySync(), { rtol: 1e-5, atol: 1e-6 });
        micro.dispose();
        full.dispose();
        tf.dispose([x, y, initial, wMicro, wFull]);
      }),
      { numRuns: 20, seed: 72 },
    );
  });
});
