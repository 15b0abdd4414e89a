import { checkRoles, definePlugin, hasRoles, Stage } from '@gradhooks/core';
import type { GradientMap, InputOf, ObjectiveGradients, OptionsOf } from '@gradhooks/core';

import { progradDirection } from './math/progradDirection.js';
import { reportProgradStep } from './report.js';
import type { GroupReport } from './report.js';

const progradOptions = {
  type: 'object',
  properties: {
    task: {
      type: 'string',
      minLength: 1,
      description: 'name of the task objective (the cross-entropy in the reference); its gradient is the update (required)',
    },
    general: {
      type: 'string',
      minLength: 1,
      description: 'name of the general-direction objective (the KL to the reference model); its gradient only shapes the projection (required)',
    },
    lambda: {
      type: 'number',
      minimum: 0,
      default: 1,
      description: 'share λ of the conflicting component removed: 1 makes the task gradient orthogonal to the general one (Prompt-align LOSS.LAMBDA)',
    },
    scope: {
      type: 'string',
      enum: ['per-variable', 'global'],
      default: 'per-variable',
      description: 'per-variable: decide and project each variable on its own, as the reference does; global: all selected variables as one vector',
    },
  },
  required: ['task', 'general'],
  additionalProperties: false,
} as const;

/** prograd options as written in code or config. */
export type ProgradOptions = InputOf<typeof progradOptions>;
/** prograd options after defaults. */
export type ResolvedProgradOptions = OptionsOf<typeof progradOptions>;

/**
 * ProGrad (Zhu et al., "Prompt-aligned Gradient for Prompt Tuning", ICCV
 * 2023; reference code BeierZhu/Prompt-align). Where the task gradient
 * conflicts with the general-direction gradient (negative dot product), it
 * removes λ times the task gradient's component along the general gradient,
 * variable by variable (or over all selected variables with
 * `scope: "global"`). It then removes the `general` objective from the
 * objective gradients: the general gradient never enters the update.
 *
 * Variables outside `variables`, or that the general objective does not
 * reach, keep the task gradient unchanged. Null entries stay null.
 */
export const prograd = definePlugin<ResolvedProgradOptions, ProgradOptions>({
  name: 'prograd',
  description: 'Removes from the task gradient its component along a conflicting general-direction gradient, then drops the general objective (ProGrad).',
  options: progradOptions,
  stage: Stage.ALIGN,
  objectiveOptions: ['task', 'general'],
  levels: ['parameter'],
  create(options, context) {
    const roles = [
      { option: 'task', objective: options.task },
      { option: 'general', objective: options.general },
    ] as const;
    checkRoles(context, roles[0], roles[1]);

    return {
      objectiveGradients: (gradients, step) => {
        if (!hasRoles(gradients, step, context.name, roles)) {
          return gradients;
        }
        const task = gradients[options.task]!;
        const general = gradients[options.general]!;
        const shared = Object.keys(task).filter((name) => task[name] != null && general[name] != null && context.matchesVariable(name));
        const groups = groupsOf(shared, options.scope);

        // Spreading keeps the task map's keys in their order; projected entries are overwritten in place.
        const updated: GradientMap = { ...task };
        const reports: GroupReport[] = [];
        for (const names of groups) {
          const taskGradients = names.map((name) => task[name]!);
          const result = progradDirection(
            taskGradients,
            names.map((name) => general[name]!),
            options.lambda,
          );
          names.forEach((name, i) => {
            updated[name] = result.projected[i]!;
          });
          if (step.report) {
            reports.push({ names, task: taskGradients, result });
          }
        }
        if (step.report && reports.length > 0) {
          reportProgradStep(step, options.scope, reports);
        }

        const output: ObjectiveGradients = {};
        for (const [objective, map] of Object.entries(gradients)) {
          if (objective !== options.general) {
            output[objective] = objective === options.task ? updated : map;
          }
        }
        return output;
      },
    };
  },
});

/** Splits the projected variables into groups that are each projected as one vector. */
function groupsOf(names: string[], scope: 'global' | 'per-variable'): string[][] {
  if (scope === 'per-variable') {
    return names.map((name) => [name]);
  }
  return names.length === 0 ? [] : [names];
}
