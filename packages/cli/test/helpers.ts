import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs';

/** Absolute path of a file under test/fixtures. */
export function fixture(...parts: string[]): string {
  return join(fileURLToPath(new URL('./fixtures/', import.meta.url)), ...parts);
}

/** Root of the repository, for examples and the test-artifacts folder. */
export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Creates a temporary folder and returns it with a function that removes it. */
export function temporaryFolder(label: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `gradhooks-cli-${label}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

let counter = 0;

/**
 * Creates a two-variable least-squares problem for custom-loop steps. `w`
 * has shape [3, 2], so a plugin that flattens gradients changes their shape.
 */
export function matrixProblem() {
  counter += 1;
  const [w, b] = tf.tidy(() => [
    tf.variable(tf.tensor2d([[0.5, -1], [1, 0.25], [-0.5, 2]]), true, `cliproblem${counter}/w`),
    tf.variable(tf.tensor1d([0.1, -0.1]), true, `cliproblem${counter}/b`),
  ]);
  const x = tf.keep(tf.tensor2d([[1, 2, 3], [-1, 0, 1], [2, -2, 0.5], [0, 1, -1]]));
  const y = tf.keep(tf.tensor2d([[1, 0], [0, 1], [1, 1], [-1, 2]]));
  return {
    variables: [w!, b!] as tf.Variable[],
    objectives: { loss: () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w!), b!), y))) as tf.Scalar },
    dispose: () => tf.dispose([w!, b!, x, y]),
  };
}
