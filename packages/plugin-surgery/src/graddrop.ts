import { definePlugin, ErrorCode, GradhooksError } from '@gradhooks/core';
import type { InputOf, OptionsOf } from '@gradhooks/core';

import { coordinateAggregatorInstance } from './coordinateAggregator.js';
import { dropBySign } from './math/signDrop.js';

const graddropOptions = {
  type: 'object',
  properties: {
    leak: {
      oneOf: [
        { type: 'number', minimum: 0, maximum: 1 },
        { type: 'object', additionalProperties: { type: 'number', minimum: 0, maximum: 1 } },
      ],
      default: 0,
      description: 'fraction of a dropped coordinate that is kept anyway: one number, or one per objective name (missing ones get 0); TorchJD leak',
    },
  },
  additionalProperties: false,
} as const;

/** Options of `graddrop` as written in code or config. */
export type GraddropOptions = InputOf<typeof graddropOptions>;
/** Options of `graddrop` after defaults. */
export type ResolvedGraddropOptions = OptionsOf<typeof graddropOptions>;

/**
 * GradDrop (Chen et al., "Just Pick a Sign: Optimizing Deep Multitask Models
 * with Gradient Sign Dropout", NeurIPS 2020), as TorchJD's GradDrop: in each
 * coordinate, a sign is drawn with probability given by how much of the
 * gradients' mass is positive, and the gradients of the other sign are
 * dropped. Works on coordinates, on the device; the uniform draws are seeded
 * from the plugin's generator. The paper's sign-of-input factor for
 * activations is not applied: at the representation level each coordinate
 * of each example is treated on its own, as TorchJD does.
 */
export const graddrop = definePlugin<ResolvedGraddropOptions, GraddropOptions>({
  name: 'graddrop',
  description: 'Keeps one sign per coordinate, drawn by how consistent the objective gradients are there (GradDrop).',
  options: graddropOptions,
  exclusiveGroup: 'aggregator',
  objectiveOptions: ['leak'],
  create(options, context) {
    const leak = options.leak as number | Record<string, number>;
    return coordinateAggregatorInstance(context, {
      combine: ({ matrix, objectives }) => {
        const leaks = objectives.map((objective) => (typeof leak === 'number' ? leak : (leak[objective] ?? 0)));
        if (typeof leak !== 'number') {
          const unknown = Object.keys(leak).find((name) => !objectives.includes(name));
          if (unknown !== undefined) {
            throw new GradhooksError(ErrorCode.ERR_OPTIONS_INVALID, `Option 'leak' of plugin '${context.name}' names objective '${unknown}', which the step does not have.`, {
              plugin: context.name,
              path: '/leak',
              received: leak,
              expected: `keys among ${objectives.join(', ')}`,
              fix: `Remove '${unknown}' from leak, or fix its name.`,
            });
          }
        }
        return dropBySign(matrix, leaks, context.random.int(0, 2147483647));
      },
    });
  },
});
