import type { PluginContext } from './definePlugin.js';
import { ErrorCode, GradhooksError } from './errors.js';
import type { ObjectiveGradients } from './gradients.js';
import type { StepContext } from './StepContext.js';

/** An option that names an objective, with the objective it names. */
export interface RoleOption {
  option: string;
  objective: string;
}

/**
 * Checks at creation that two role options name different objectives and,
 * when the session declares its objectives, that both are declared.
 */
export function checkRoles(context: PluginContext, first: RoleOption, second: RoleOption): void {
  if (first.objective === second.objective) {
    throw new GradhooksError(
      ErrorCode.ERR_OPTIONS_INVALID,
      `Options '${first.option}' and '${second.option}' of plugin '${context.name}' both name objective '${first.objective}'.`,
      {
        plugin: context.name,
        path: `/${second.option}`,
        received: second.objective,
        expected: `an objective other than '${first.objective}'`,
        fix: `Name two different objectives in '${first.option}' and '${second.option}'.`,
      },
    );
  }
  if (context.objectives.length === 0) {
    return;
  }
  for (const role of [first, second]) {
    if (!context.objectives.includes(role.objective)) {
      throw new GradhooksError(
        ErrorCode.ERR_OPTIONS_INVALID,
        `Option '${role.option}' of plugin '${context.name}' names objective '${role.objective}', which the session does not declare (declared: ${context.objectives.join(', ')}).`,
        {
          plugin: context.name,
          path: `/${role.option}`,
          received: role.objective,
          expected: `one of ${context.objectives.join(', ')}`,
          fix: `Set '${role.option}' to a declared objective, or declare '${role.objective}'.`,
        },
      );
    }
  }
}

/**
 * Returns true when the step has both role objectives. On a flush step that
 * has neither, it returns false so the plugin passes the gradients through.
 * Otherwise a missing objective is an error naming the option and the
 * objectives the step has.
 */
export function hasRoles(gradients: ObjectiveGradients, step: StepContext, plugin: string, roles: readonly RoleOption[]): boolean {
  const missing = roles.filter((role) => !(role.objective in gradients));
  if (missing.length === 0) {
    return true;
  }
  if (step.flushing && missing.length === roles.length) {
    return false;
  }
  const role = missing[0]!;
  const present = Object.keys(gradients);
  throw new GradhooksError(
    ErrorCode.ERR_OPTIONS_INVALID,
    `Option '${role.option}' of plugin '${plugin}' names objective '${role.objective}', but this step has objectives [${present.join(', ')}].`,
    {
      plugin,
      path: `/${role.option}`,
      received: role.objective,
      expected: present.length === 0 ? 'an objective of the step (the step has none)' : `one of ${present.join(', ')}`,
      fix: `Pass a loss named '${role.objective}' to the step, or set '${role.option}' to one of its objectives.`,
    },
  );
}
