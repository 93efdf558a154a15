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
