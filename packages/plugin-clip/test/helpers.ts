import * as tf from '@tensorflow/tfjs';

import { definePlugin, HookedOptimizer, Stage } from '@gradhooks/core';
import type { PluginSpec, SessionOptions, StepResult, TelemetryEventMap } from '@gradhooks/core';
import { fromSpec } from '@gradhooks/testing';

let counter = 0;

/** Returns a variable-name prefix no other test in this process uses (tfjs variable names are global). */
export function uniquePrefix(label: string): string {
  counter += 1;
  return `${label}${counter}`;
}

/** Telemetry events of one kind, collected in order. */
export function collect<K extends keyof TelemetryEventMap>(optimizer: HookedOptimizer, event: K): Array<TelemetryEventMap[K]> {
  const events: Array<TelemetryEventMap[K]> = [];
  optimizer.telemetry.on(event, ((payload: TelemetryEventMap[K]) => events.push(payload)) as never);
  return events;
}

/** Builds a plugin that records the combined gradients reaching the optimizer, after every other plugin. */
export function observer(): { plugin: PluginSpec; seen: Array<Record<string, number[] | null>> } {
  const seen: Array<Record<string, number[] | null>> = [];
  const plugin = definePlugin({
    name: 'observer',
    description: 'records the combined gradients',
    options: { type: 'object', properties: {}, additionalProperties: false },
    stage: Stage.OBSERVE + 50,
    create: () => ({
      gradients: (combined) => {
        seen.push(Object.fromEntries(Object.entries(combined).map(([name, tensor]) => [name.split('/').slice(1).join('/'), tensor === null ? null : Array.from(tensor.dataSync())])));
        return combined;
      },
    }),
  })();
  return { plugin, seen };
}

/**
 * A session over variables that start at `initial`, whose single objective
 * (`loss`) returns exactly the gradients given to `step`, in spec form
 * ("NaN" and "Infinity" strings allowed).
 */
export function gradientFeeder(plugins: readonly PluginSpec[], initial: Record<string, unknown>, options: Omit<SessionOptions, 'plugins'> & { inner?: tf.Optimizer } = {}) {
  const prefix = uniquePrefix('feed');
  const values = fromSpec(initial) as Record<string, number[]>;
  const variables = Object.entries(values).map(([name, value]) => tf.variable(tf.tensor(value), true, `${prefix}/${name}`));
  const { inner, ...session } = options;
  const optimizer = new HookedOptimizer(inner ?? tf.train.sgd(1), { ...session, plugins });
  const full = (name: string) => `${prefix}/${name}`;
  return {
    optimizer,
    variables,
    full,
    /** Runs one step whose objective has exactly these gradients (by short variable name). */
    step(gradients: Record<string, unknown>): StepResult {
      const grads = fromSpec(gradients) as Record<string, number[] | null>;
      return optimizer.step(
        {
          loss: {
            gradients: () => ({
              value: tf.scalar(0),
              grads: Object.fromEntries(Object.entries(grads).map(([name, value]) => [full(name), value === null ? null : tf.tensor(value)])),
            }),
          },
        },
        { variables },
      );
    },
    /** Current values of the variables, by short name. */
    values(): Record<string, number[]> {
      return Object.fromEntries(variables.map((variable) => [variable.name.slice(prefix.length + 1), Array.from(variable.dataSync())]));
    },
    dispose(): void {
      optimizer.dispose();
      tf.dispose(variables);
    },
  };
}
