/**
 * Which variants of a scenario a command covers: a preset, "current" (today's kernel), knob=value
 * pairs, or every preset. Shared by the checker's session and the simulator.
 */
import { UserError } from '../errors.ts';
import { DEFAULT_VARIANT, parseKnobList, type Variant, withKnobs } from '../model/kvm/variants.ts';
import type { Scenario } from './schema.ts';

export interface NamedVariant {
  /** A preset's name, "current", or the knob list as given. */
  name: string;
  variant: Variant;
}

/**
 * A preset of the scenario, "current" (today's kernel), or knob=value pairs separated by commas
 * on top of today's kernel. An empty value, a pair that is not knob=value and a knob given twice
 * are errors; an unknown knob names the knobs.
 */
export function resolveVariant(sc: Scenario, spec: string, where = '--variant'): NamedVariant {
  if (spec.trim() === '')
    throw new UserError(
      `${where}: empty value (give a preset of the scenario, "current", or knob=value pairs)`,
    );
  if (spec === 'current') return { name: 'current', variant: DEFAULT_VARIANT };
  const preset = sc.presets?.[spec];
  if (preset)
    return { name: spec, variant: withKnobs(DEFAULT_VARIANT, preset, `${sc.name}: preset ${spec}`) };
  if (spec.includes('='))
    return { name: spec, variant: withKnobs(DEFAULT_VARIANT, parseKnobList(spec, where), where) };
  const names = ['current', ...Object.keys(sc.presets ?? {})];
  throw new UserError(
    `${where}: ${sc.name} has no preset "${spec}" (presets: ${names.join(', ')}; or give knob=value pairs)`,
  );
}

/** The presets `--all` and `--all-variants` check: the scenario's, or "current" when it has none. */
export function presetsOf(sc: Scenario): string[] {
  const names = Object.keys(sc.presets ?? {});
  return names.length > 0 ? names : ['current'];
}

/** The variants one check command covers for a scenario. */
export function variantsOf(sc: Scenario, o: { variant?: string; allVariants?: boolean }): NamedVariant[] {
  if (o.variant !== undefined && o.allVariants === true)
    throw new UserError('give either --variant or --all-variants, not both');
  if (o.variant !== undefined) return [resolveVariant(sc, o.variant)];
  if (o.allVariants === true) return presetsOf(sc).map((p) => resolveVariant(sc, p));
  return [{ name: 'current', variant: DEFAULT_VARIANT }];
}
