import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

import { ErrorCode } from '@gradhooks/core';
import { klToReference } from '@gradhooks/plugin-prograd';
import { assertAllClose } from '@gradhooks/testing';

import { float32Tolerance, oraclesWithPrefix } from '../../../test/helpers/specs.js';

const lossExamples = oraclesWithPrefix('prograd-losses-');

describe('klToReference worked examples', () => {
  it('covers both temperatures', () => {
    expect(lossExamples.map((example) => example.params['temperature'])).toEqual([1, 2]);
  });

  for (const example of lossExamples) {
    const temperature = example.params['temperature'] as number;
    const student = example.inputs['student_logits'] as number[][];
    const reference = example.inputs['teacher_logits'] as number[][];

    it(`${example.id}: loss as coded and its gradient`, () => {
      const start = tf.memory().numTensors;
      tf.tidy(() => {
        const logits = tf.tensor2d(student);
        const teacher = tf.tensor2d(reference);
        const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => klToReference(z, teacher, { temperature }))(logits);
        assertAllClose(value, example.expected['kl_loss_as_coded'], { ...float32Tolerance(), label: 'loss' });
        assertAllClose(grad, example.expected['dkl_dlogits'], { ...float32Tolerance(), label: 'gradient' });
      });
      expect(tf.memory().numTensors).toBe(start);
    });

    it(`${example.id}: KL form, same gradient`, () => {
      tf.tidy(() => {
        const teacher = tf.tensor2d(reference);
        const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => klToReference(z, teacher, { temperature, form: 'kl' }))(tf.tensor2d(student));
        assertAllClose(value, example.expected['true_kl_times_T2'], { ...float32Tolerance(), label: 'loss' });
        assertAllClose(grad, example.expected['dkl_dlogits'], { ...float32Tolerance(), label: 'gradient' });
      });
    });

    it(`${example.id}: task loss matches tfjs`, () => {
      // The task objective is tfjs's own softmax cross-entropy, averaged over the batch as the reference does.
      tf.tidy(() => {
        const labels = tf.oneHot(tf.tensor1d(example.inputs['labels'] as number[], 'int32'), student[0]!.length);
        const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, z) as tf.Scalar)(tf.tensor2d(student));
        assertAllClose(value, example.expected['xe_loss'], { ...float32Tolerance(), label: 'loss' });
        assertAllClose(grad, example.expected['dxe_dlogits'], { ...float32Tolerance(), label: 'gradient' });
      });
    });
  }
});

describe('klToReference inputs', () => {
  it('is zero for identical logits in KL form', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([[0.5, -1, 2], [3, 0, 0]]);
      expect(klToReference(logits, logits, { form: 'kl' }).dataSync()[0]).toBeCloseTo(0, 6);
    });
  });

  it('sends no gradient to the reference', () => {
    const start = tf.memory().numTensors;
    tf.tidy(() => {
      const student = tf.tensor2d([[0.5, 1.5, -0.3]]);
      const reference = tf.tensor2d([[2, 1, 0.1]]);
      const [toStudent, toReference] = tf.grads((z: tf.Tensor, r: tf.Tensor) => klToReference(z, r))([student, reference]);
      expect(Array.from(toReference!.dataSync())).toEqual([0, 0, 0]);
      expect(Array.from(toStudent!.dataSync()).some((value) => value !== 0)).toBe(true);
    });
    expect(tf.memory().numTensors).toBe(start);
  });

  it('averages over every leading axis', () => {
    tf.tidy(() => {
      const student = tf.tensor3d([[[0.5, 1.5, -0.3], [2, -1, 0]]]);
      const reference = tf.tensor3d([[[2, 1, 0.1], [1, 0.5, -0.5]]]);
      const flat = klToReference(tf.reshape(student, [2, 3]), tf.reshape(reference, [2, 3]), { temperature: 2 });
      assertAllClose(klToReference(student, reference, { temperature: 2 }), flat.dataSync()[0], { rtol: 1e-6, atol: 0 });
      const gradient = tf.grad((z: tf.Tensor) => klToReference(z, reference))(student);
      const flatGradient = tf.grad((z: tf.Tensor) => klToReference(z, tf.reshape(reference, [2, 3])))(tf.reshape(student, [2, 3]));
      assertAllClose(tf.reshape(gradient, [2, 3]), flatGradient.arraySync(), { rtol: 1e-6, atol: 1e-7 });
    });
  });

  it('rejects a bad temperature or shape', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([[1, 2, 3]]);
      for (const temperature of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => klToReference(logits, logits, { temperature })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: 'temperature' }));
      }
      expect(() => klToReference(logits, tf.tensor2d([[1, 2]]))).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OBJECTIVE_INVALID }));
      expect(() => klToReference(logits, logits, { form: 'js' as never })).toThrowError(expect.objectContaining({ code: ErrorCode.ERR_OPTIONS_INVALID, path: 'form' }));
    });
  });
});
