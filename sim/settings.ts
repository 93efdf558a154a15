import { readFile } from 'node:fs/promises';
import { type DecisionPointSettings, decisionPointSettingsSchema, describeZodError } from '../shared/core/schemas.ts';
import { SimError } from './errors.ts';

/** A decision point settings file that is missing, not JSON, or not valid settings. */
export class SettingsError extends SimError {}

export interface LoadedSettings {
  /** Parsed, with the engine's defaults filled in. */
  readonly settings: DecisionPointSettings;
  /** As written in the file (what `--through-stack` PUTs), or `{}` for the defaults. */
  readonly raw: Record<string, unknown>;
}

/**
 * Validates decision point settings with the engine's own schema. Objectives (one bandit per business objective)
 * are refused: the simulator models the single-objective decision point whose reward is `rewards`.
 */
export function parseSettings(raw: unknown, source: string): LoadedSettings {
  const parsed = decisionPointSettingsSchema.safeParse(raw);
  if (!parsed.success) throw new SettingsError(`${source}: ${describeZodError(parsed.error)}`);
  const objectives = (parsed.data as { objectives?: unknown }).objectives;
  if (Array.isArray(objectives) && objectives.length > 0) {
    throw new SettingsError(`${source}: objectives are not simulated; describe the reward with "rewards"`);
  }
  return { settings: parsed.data, raw: raw as Record<string, unknown> };
}

/** Reads and validates a settings JSON file. */
export async function loadSettings(path: string): Promise<LoadedSettings> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new SettingsError(`cannot read decision point config ${path}`, { cause });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new SettingsError(`${path}: invalid JSON (${(cause as Error).message})`, { cause });
  }
  return parseSettings(raw, path);
}

/** The engine's default settings (contextDim 16, actionDim 8, …). */
export function defaultSettings(): LoadedSettings {
  return parseSettings({}, 'defaults');
}

/** The longest dense arrays seen in a sample of the input: `undefined` where the features are named (or absent). */
export interface DenseShape {
  readonly contextFeatures?: number;
  readonly actionFeatures?: number;
}

/** Rounds (or history lines) peeked at to infer dimensions: what {@link denseShape} reads of each. */
export interface FeatureSample {
  readonly context: unknown;
  readonly actions: readonly { readonly features?: unknown }[];
}

/** The longest dense context and dense action-feature arrays in `samples` (named features are not counted). */
export function denseShape(samples: Iterable<FeatureSample>): DenseShape {
  let contextFeatures: number | undefined;
  let actionFeatures: number | undefined;
  for (const s of samples) {
    if (Array.isArray(s.context)) contextFeatures = Math.max(contextFeatures ?? 0, s.context.length);
    for (const a of s.actions) {
      if (Array.isArray(a.features)) actionFeatures = Math.max(actionFeatures ?? 0, a.features.length);
    }
  }
  return {
    ...(contextFeatures !== undefined && { contextFeatures }),
    ...(actionFeatures !== undefined && { actionFeatures }),
  };
}

const dimBounds = (dim: 'contextDim' | 'actionDim') => {
  const n = decisionPointSettingsSchema.shape[dim].unwrap();
  return { min: n.minValue ?? 1, max: n.maxValue ?? Number.POSITIVE_INFINITY };
};

export interface InferredSettings extends LoadedSettings {
  /** One line per dimension taken from the data, e.g. `inferred contextDim 17 from dense contexts of 16 features`. */
  readonly notes: readonly string[];
}

const SETTINGS_HINT = 'a settings file (--decision-point-config)';

/**
 * Settings for data given without a settings file: the engine's defaults, except that dense features set their
 * dimension to the array length + 1 (slot 0 is the bias), so a dense file runs as it is. Named features keep the
 * default dimension (they are hashed into it). Data that cannot fit the engine's limits (contextDim and actionDim, from
 * the settings schema) is refused with the limit and what to do.
 */
export function inferSettings(shape: DenseShape): InferredSettings {
  const raw: Record<string, number> = {};
  const notes: string[] = [];
  const c = dimBounds('contextDim');
  const a = dimBounds('actionDim');
  if (shape.contextFeatures !== undefined) {
    const p = shape.contextFeatures;
    if (p + 1 > c.max) {
      throw new SettingsError(
        `dense contexts of ${p} features need contextDim ${p + 1}, above the engine's limit contextDim ≤ ${c.max}: ` +
          `give at most ${c.max - 1} dense context features, or named ones (hashed into the contextDim of ${SETTINGS_HINT})`,
      );
    }
    raw.contextDim = Math.max(c.min, p + 1);
    notes.push(`inferred contextDim ${raw.contextDim} from dense contexts of ${p} features`);
  }
  if (shape.actionFeatures !== undefined) {
    const q = shape.actionFeatures;
    if (q + 1 > a.max) {
      throw new SettingsError(
        `dense action features of length ${q} need actionDim ${q + 1}, above the engine's limit actionDim ≤ ${a.max}: ` +
          `give at most ${a.max - 1} dense action features, or named ones (hashed into the actionDim of ${SETTINGS_HINT})`,
      );
    }
    raw.actionDim = Math.max(a.min, q + 1);
    notes.push(`inferred actionDim ${raw.actionDim} from dense action features of length ${q}`);
  }
  return { ...parseSettings(raw, 'inferred settings'), notes };
}
