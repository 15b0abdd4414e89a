import * as tf from '@tensorflow/tfjs-core';

import { checkRoles, definePlugin, hasRoles, Stage } from '@gradhooks/core';
import type { GradientMap, InputOf, JsonValue, ObjectiveGradients, OptionsOf, PluginContext, StepContext } from '@gradhooks/core';

import { checkSavedEmas, EmaStore } from './emaStore.js';
import { bloopDirection } from './math/bloopDirection.js';
import type { BloopSettings } from './math/bloopDirection.js';
import { readGroups, reportBloop } from './report.js';
import type { GroupReport } from './report.js';

const emaBloopOptions = {
  type: 'object',
  properties: {
    main: {
      type: 'string',
      minLength: 1,
      description: 'name of the main objective; the update follows its gradient, which is never projected (required)',
    },
    auxiliary: {
      type: 'string',
      minLength: 1,
      description: 'name of the auxiliary objective; its gradient is projected orthogonally to the EMA of the main gradient (required)',
    },
    lambda: {
      type: 'number',
      minimum: 0,
      default: 0.1,
      description: 'weight λ of the projected auxiliary gradient in the update, and of the auxiliary gradient on variables only it reaches (ml-bloop lbda)',
    },
    ema: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.1,
      description: 'weight ρ of the new main gradient in its EMA, e ← e + ρ(g − e); a weight, not a decay (ml-bloop ema)',
    },
    eps: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 1e-7,
      description: 'added to the squared norm of the EMA in the projection ratio (ml-bloop eps)',
    },
    init: {
      type: 'string',
      enum: ['grad', 'zeros'],
      default: 'grad',
      description: 'initial EMA of each variable: grad (its first main gradient) or zeros',
    },
    scope: {
      type: 'string',
      enum: ['global', 'per-variable'],
      default: 'global',
      description: 'global: one projection over all selected variables taken as one vector, as ml-bloop does; per-variable: one projection per variable',
    },
    variant: {
      type: 'string',
      enum: ['bloop', 'dynamic-barrier', 'ema-pcgrad'],
      default: 'bloop',
      description:
        'bloop: project the auxiliary gradient; dynamic-barrier: the same with the ratio capped at 1/lambda; ema-pcgrad: two-sided PCGrad against EMAs of both gradients',
    },
  },
  required: ['main', 'auxiliary'],
  additionalProperties: false,
} as const;

/** ema-bloop options as written in code or config. */
export type EmaBloopOptions = InputOf<typeof emaBloopOptions>;
/** ema-bloop options after defaults. */
export type ResolvedEmaBloopOptions = OptionsOf<typeof emaBloopOptions>;

const STATE_FORMAT = 'ema-bloop';
const STATE_VERSION = 1;

/**
 * EMA-Bloop (Hsieh et al., "Careful with that Scalpel: Improving Gradient
 * Surgery with an EMA", ICML 2024; reference code apple/ml-bloop). It replaces
 * the `main` and `auxiliary` objectives by one objective, named `main`, whose
 * gradient is d = g_main + λ·(g_aux − r·e), where e is an EMA of the main
 * gradient updated first and r = ⟨e, g_aux⟩ / (‖e‖² + ε).
 *
 * The projection covers the selected variables that both objectives reach.
 * A variable only the main objective reaches gets g_main, one only the
 * auxiliary objective reaches gets λ·g_aux, and a variable both reach but
 * `variables` excludes gets g_main + λ·g_aux. Null entries stay null.
 */
export const emaBloop = definePlugin<ResolvedEmaBloopOptions, EmaBloopOptions>({
  name: 'ema-bloop',
  description: 'Adds the auxiliary gradient, projected orthogonally to an EMA of the main gradient, to the main gradient (Bloop).',
  options: emaBloopOptions,
  stage: Stage.ALIGN,
  objectiveOptions: ['main', 'auxiliary'],
  levels: ['parameter'],
  create(options, context) {
    const roles = [
      { option: 'main', objective: options.main },
      { option: 'auxiliary', objective: options.auxiliary },
    ] as const;
    checkRoles(context, roles[0], roles[1]);
    const settings: BloopSettings = { ema: options.ema, lambda: options.lambda, eps: options.eps, variant: options.variant };
    const mainEmas = new EmaStore();
    const auxiliaryEmas = new EmaStore();

    return {
      objectiveGradients: (gradients, step) => {
        if (!hasRoles(gradients, step, context.name, roles)) {
          return gradients;
        }
        const update = combine(gradients, step, context, options, settings, { main: mainEmas, auxiliary: auxiliaryEmas });
        const output: ObjectiveGradients = {};
        for (const [objective, map] of Object.entries(gradients)) {
          if (objective !== options.auxiliary) {
            output[objective] = objective === options.main ? update : map;
          }
        }
        return output;
      },
      state: {
        save: () => ({ format: STATE_FORMAT, version: STATE_VERSION, main: mainEmas.save(), auxiliary: auxiliaryEmas.save() }),
        load: (saved: JsonValue) => {
          const checked = checkSavedEmas(saved, context.name, STATE_FORMAT, STATE_VERSION);
          mainEmas.load(checked.main);
          auxiliaryEmas.load(checked.auxiliary);
        },
      },
      dispose: () => {
        mainEmas.dispose();
        auxiliaryEmas.dispose();
      },
    };
  },
});

/** Builds the update map, in the step's variable order, and stages the new EMAs. */
function combine(
  gradients: ObjectiveGradients,
  step: StepContext,
  context: PluginContext,
  options: ResolvedEmaBloopOptions,
  settings: BloopSettings,
  emas: { main: EmaStore; auxiliary: EmaStore },
): GradientMap {
  const main = gradients[options.main]!;
  const auxiliary = gradients[options.auxiliary]!;
  const update: GradientMap = {};
  const projected: string[] = [];

  for (const name of step.variableNames) {
    if (!(name in main) && !(name in auxiliary)) {
      continue;
    }
    const g = main[name] ?? null;
    const a = auxiliary[name] ?? null;
    if (g !== null && a !== null && context.matchesVariable(name)) {
      projected.push(name);
      update[name] = null; // Placeholder that keeps the key order; filled below.
    } else if (g !== null && a !== null) {
      update[name] = tf.add(g, times(a, settings.lambda));
    } else if (a !== null) {
      update[name] = times(a, settings.lambda);
    } else {
      update[name] = g;
    }
  }

  const groups = groupsOf(projected, options.scope);
  const reports: GroupReport[] = [];
  for (const names of groups) {
    const mainGradients = names.map((name) => main[name]!);
    const auxiliaryGradients = names.map((name) => auxiliary[name]!);
    const result = bloopDirection(
      {
        main: mainGradients,
        auxiliary: auxiliaryGradients,
        mainEma: names.map((name, i) => emas.main.current(name) ?? initialEma(options.init, mainGradients[i]!)),
        ...(settings.variant === 'ema-pcgrad'
          ? { auxiliaryEma: names.map((name, i) => emas.auxiliary.current(name) ?? initialEma(options.init, auxiliaryGradients[i]!)) }
          : {}),
      },
      settings,
    );
    names.forEach((name, i) => {
      update[name] = result.direction[i]!;
    });
    reports.push({ names, main: mainGradients, auxiliary: auxiliaryGradients, result });
  }
  if (reports.length === 0) {
    return update;
  }

  // One device read per step: whether each group's EMA may advance and, on reporting steps, the telemetry numbers.
  const numbers = readGroups(reports, step.report);
  reports.forEach(({ names, result }, k) => {
    if (numbers.finite[k]) {
      names.forEach((name, i) => {
        emas.main.stage(step, name, result.mainEma[i]!);
        if (result.auxiliaryEma !== undefined) {
          emas.auxiliary.stage(step, name, result.auxiliaryEma[i]!);
        }
      });
    }
  });
  if (step.report) {
    reportBloop(step, options.scope, reports, numbers);
  }
  return update;
}

/** Splits the projected variables into groups that are each projected as one vector. */
function groupsOf(names: string[], scope: 'global' | 'per-variable'): string[][] {
  if (scope === 'per-variable') {
    return names.map((name) => [name]);
  }
  return names.length === 0 ? [] : [names];
}

function initialEma(init: 'grad' | 'zeros', gradient: tf.Tensor): tf.Tensor {
  return init === 'grad' ? gradient : tf.zerosLike(gradient);
}

function times(tensor: tf.Tensor, factor: number): tf.Tensor {
  return factor === 1 ? tensor : tf.mul(tensor, factor);
}
