import * as tf from '@tensorflow/tfjs-core';

import type { StepContext } from '@gradhooks/core';

import type { BloopResult } from './math/bloopDirection.js';
import { MINIMUM_SCALE, squaredNormParts } from '@gradhooks/core';

/** One projection group of a step: its variables, gradients and result. */
export interface GroupReport {
  names: string[];
  main: tf.Tensor[];
  auxiliary: tf.Tensor[];
  result: BloopResult;
}

/** Numbers that `readGroups` reads from the device. */
export interface GroupNumbers {
  /** Whether each group's EMA may advance. */
  finite: boolean[];
  /** Telemetry numbers, `TELEMETRY_FIELDS` per group, on reporting steps; empty otherwise. */
  telemetry: Float32Array;
}

const TELEMETRY_FIELDS = 7;

/**
 * Reads each group's `finite` flag in one device read. When `report` is
 * true, the same read also fetches the numbers `reportBloop` needs. These are
 * the ratio, the component of the auxiliary gradient along the EMA, the
 * squared norms of the EMA, of both gradients and of the update, and the
 * second ratio of `ema-pcgrad`.
 */
export function readGroups(groups: readonly GroupReport[], report: boolean): GroupNumbers {
  const values = tf.tidy(() => {
    const scalars: tf.Scalar[] = groups.map(({ result }) => tf.cast(result.finite, 'float32') as tf.Scalar);
    if (report) {
      for (const { main, auxiliary, result } of groups) {
        const projection = result.auxiliaryProjection;
        scalars.push(
          result.ratio,
          tf.div(projection.scaledDot, tf.sqrt(tf.maximum(projection.scaledSquaredNorm, MINIMUM_SCALE))) as tf.Scalar,
          tf.mul(projection.scaledSquaredNorm, tf.square(projection.scale)) as tf.Scalar,
          squaredNormParts(main),
          squaredNormParts(auxiliary),
          squaredNormParts(result.direction),
          result.mainRatio ?? tf.scalar(Number.NaN),
        );
      }
    }
    return tf.stack(scalars).dataSync() as Float32Array;
  });
  return {
    finite: Array.from(values.subarray(0, groups.length), (value) => value === 1),
    telemetry: values.subarray(groups.length),
  };
}

/**
 * Emits one `state` event with the numbers of this step. It reports the
 * norms of the main and auxiliary gradients, of the updated EMA and of the
 * update over the projected variables, and whether every EMA advanced. It
 * also reports the ratio r and the cosine between the auxiliary gradient and
 * the EMA, once per variable with the per-variable scope (keys such as
 * `ratio:<variable>`). `ema-pcgrad` adds `mainRatio`, the coefficient of the
 * auxiliary EMA removed from the main gradient.
 */
export function reportBloop(step: StepContext, scope: 'global' | 'per-variable', groups: readonly GroupReport[], numbers: GroupNumbers): void {
  const values: Record<string, number | boolean> = {};
  const totals = { main: 0, auxiliary: 0, ema: 0, update: 0 };
  groups.forEach((group, k) => {
    const [ratio, component, emaSquared, mainSquared, auxiliarySquared, updateSquared, mainRatio] = Array.from(
      numbers.telemetry.subarray(k * TELEMETRY_FIELDS, (k + 1) * TELEMETRY_FIELDS),
    );
    totals.main += mainSquared!;
    totals.auxiliary += auxiliarySquared!;
    totals.ema += emaSquared!;
    totals.update += updateSquared!;
    const suffix = scope === 'global' ? '' : `:${group.names[0]}`;
    values[`ratio${suffix}`] = ratio!;
    values[`cosine${suffix}`] = cosine(component!, auxiliarySquared!);
    if (group.result.mainRatio !== undefined) {
      values[`mainRatio${suffix}`] = mainRatio!;
    }
  });
  values['mainNorm'] = Math.sqrt(totals.main);
  values['auxiliaryNorm'] = Math.sqrt(totals.auxiliary);
  values['emaNorm'] = Math.sqrt(totals.ema);
  values['updateNorm'] = Math.sqrt(totals.update);
  values['emaAdvanced'] = numbers.finite.every((finite) => finite);
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
