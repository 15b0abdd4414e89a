import * as tf from '@tensorflow/tfjs-core';

import type { StepContext } from '@gradhooks/core';

import type { ProgradResult } from './math/progradDirection.js';
import { MINIMUM_SCALE, squaredNormParts } from '@gradhooks/core';

/** One projection group of a reporting step: its variables, task gradients and result. */
export interface GroupReport {
  names: string[];
  task: tf.Tensor[];
  result: ProgradResult;
}

const FIELDS = 5;

/**
 * Emits one `state` event with the numbers of this step, read from the
 * device at once. Per variable (keys `cosine:<variable>`,
 * `projected:<variable>`, `coefficient:<variable>`), or once with the global
 * scope, it reports the cosine between the task and general gradients,
 * whether the task gradient was projected and the coefficient
 * ⟨g_task, g_general⟩ / ‖g_general‖². It also reports how many variables
 * were projected and the norms of both gradients over the variables both reach.
 */
export function reportProgradStep(step: StepContext, scope: 'per-variable' | 'global', reports: readonly GroupReport[]): void {
  const numbers = tf.tidy(() =>
    tf
      .stack(
        reports.flatMap(({ task, result }) => [
          tf.div(result.scaledDot, tf.sqrt(tf.maximum(result.scaledSquaredNorm, MINIMUM_SCALE))),
          tf.mul(result.scaledSquaredNorm, tf.square(result.scale)),
          squaredNormParts(task),
          tf.cast(result.conflict, 'float32'),
          result.coefficient,
        ]),
      )
      .dataSync(),
  );

  const values: Record<string, number | boolean> = {};
  let taskSquared = 0;
  let generalSquared = 0;
  let projected = 0;
  reports.forEach((report, k) => {
    const [component, generalNorm, taskNorm, conflict, coefficient] = Array.from(numbers.subarray(k * FIELDS, (k + 1) * FIELDS));
    taskSquared += taskNorm!;
    generalSquared += generalNorm!;
    projected += conflict === 1 ? report.names.length : 0;
    const suffix = scope === 'global' ? '' : `:${report.names[0]}`;
    values[`cosine${suffix}`] = cosine(component!, taskNorm!);
    values[`projected${suffix}`] = conflict === 1;
    values[`coefficient${suffix}`] = coefficient!;
  });
  values['projectedVariables'] = projected;
  values['sharedVariables'] = reports.reduce((total, report) => total + report.names.length, 0);
  values['taskNorm'] = Math.sqrt(taskSquared);
  values['generalNorm'] = Math.sqrt(generalSquared);
  step.emit('state', { values });
}

/** Cosine from the component of one vector along another's direction and its squared norm; 0 when the norm is 0 or a value is not finite. */
function cosine(component: number, squaredNorm: number): number {
  const norm = Math.sqrt(squaredNorm);
  if (!(norm > 0) || !Number.isFinite(norm) || !Number.isFinite(component)) {
    return 0;
  }
  return Math.min(1, Math.max(-1, component / norm));
}
