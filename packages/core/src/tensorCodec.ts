import * as tf from '@tensorflow/tfjs-core';

import { ErrorCode, GradhooksError } from './errors.js';

/** A tensor as JSON: dtype, shape and its raw little-endian bytes in base64, so every bit survives. */
export interface EncodedTensor {
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  data: string;
}

function bytesToBase64(bytes: Uint8Array): string {
  const buffer = (globalThis as { Buffer?: { from(data: Uint8Array): { toString(encoding: string): string } } }).Buffer;
  if (buffer !== undefined) {
    return buffer.from(bytes).toString('base64');
  }
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/** Encodes a float32, int32 or bool tensor without loss. Reads the tensor synchronously. */
export function encodeTensor(tensor: tf.Tensor): EncodedTensor {
  const dtype = tensor.dtype;
  if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') {
    throw new GradhooksError(ErrorCode.ERR_CHECKPOINT_INVALID, `Cannot encode a tensor of dtype ${dtype}.`, {
      received: dtype,
      expected: 'float32, int32 or bool',
      fix: 'Keep plugin state in float32, int32 or bool tensors.',
    });
  }
  const values = tensor.dataSync();
  const typed = dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
  return { dtype, shape: [...tensor.shape], data: bytesToBase64(new Uint8Array(typed.buffer)) };
}

/** Decodes a tensor from `encodeTensor`. */
export function decodeTensor(encoded: EncodedTensor): tf.Tensor {
  const valid =
    encoded !== null &&
    typeof encoded === 'object' &&
    Array.isArray(encoded.shape) &&
    typeof encoded.data === 'string' &&
    (encoded.dtype === 'float32' || encoded.dtype === 'int32' || encoded.dtype === 'bool');
  if (!valid) {
    throw new GradhooksError(ErrorCode.ERR_CHECKPOINT_INVALID, 'Invalid encoded tensor in checkpoint.', {
      received: encoded,
      expected: '{ dtype, shape, data } from encodeTensor',
      fix: 'Load a checkpoint written by saveCheckpoint, unmodified.',
    });
  }
  const bytes = base64ToBytes(encoded.data);
  const size = encoded.shape.reduce((product, dimension) => product * dimension, 1);
  const copy = bytes.slice().buffer;
  const values =
    encoded.dtype === 'float32' ? new Float32Array(copy) : encoded.dtype === 'int32' ? new Int32Array(copy) : new Uint8Array(copy);
  if (values.length !== size) {
    throw new GradhooksError(
      ErrorCode.ERR_CHECKPOINT_INVALID,
      `Encoded tensor holds ${values.length} values but its shape [${encoded.shape.join(', ')}] needs ${size}.`,
      { received: values.length, expected: `${size} values`, fix: 'Load a checkpoint written by saveCheckpoint, unmodified.' },
    );
  }
  return tf.tensor(values, encoded.shape, encoded.dtype);
}
