import type { PositionModel } from '../../shared/core/bandit/position.ts';
import { createRng } from '../../shared/core/random.ts';
import { EngineHarness } from '../../sim/engine-harness.ts';

/**
 * Learning from several slots (`npm run bench -- --only slots-learning`; test/sim/slots-learning.test.ts runs it
 * smaller). Issue 16, item 2, through the whole engine (decide, stream, updater, model cache; memory adapters): a page of three
 * slots whose users click slot j's action with probability κ_j · ρ(segment, action), κ = (1, 0.5, 0.25), the
 * position-based click model. The client sends one click event per clicked slot, naming its action.
 *
 * Three ways of learning from the same traffic, by the model cache's position rule:
 * - slot-aware (the engine): every slot counts, in slot-1 units, with κ learned from the statistics;
 * - slot 1 only: lower slots are left out (κ = 1, 0, 0);
 * - pooled (the engine before slots were kept apart): every slot counts as if it were slot 1 (κ = 1, 1, 1), so an
 *   action is penalised for having been shown lower.
 * Quality: the expected clicks of the pages served over the second half of the run, Σ_j κ_j ρ(x, a_j), as a share of
 * the best page's (the three most relevant actions in order), averaged over seeds. The world is written from the model
 * above, not from the engine.
 */
export const KAPPA = [1, 0.5, 0.25];
const SEGMENTS = 4;
const ACTIONS = 12;
export const DECISIONS = 1600;

export async function runSlotsWorld(
  seed: number,
  positionModel?: PositionModel,
  newcomer = false,
): Promise<{ share: number; kappa: readonly number[]; newcomerTop: number }> {
  const rng = createRng(1000 + seed);
  const rho = Array.from({ length: SEGMENTS }, () => Array.from({ length: ACTIONS }, () => 0.02 + 0.3 * rng.next()));
  // The newcomer (the last action) is the best in every segment, and joins the catalog halfway.
  if (newcomer) for (const r of rho) r[ACTIONS - 1] = 0.45;
  const h = await EngineHarness.create({
    settings: { contextDim: 16, actionDim: 4, rewards: { click: 1 } },
    seed,
    slots: 3,
    ...(positionModel && { positionModel }),
  });
  for (let a = 0; a < (newcomer ? ACTIONS - 1 : ACTIONS); a++) await h.putAction(`a${a}`, { features: {} });
  const users = createRng(2000 + seed);
  let served = 0;
  let best = 0;
  let newcomerTop = 0;
  for (let t = 0; t < DECISIONS; t++) {
    if (newcomer && t === DECISIONS / 2) await h.putAction(`a${ACTIONS - 1}`, { features: {} });
    const s = users.int(SEGMENTS);
    const d = await h.decide(`u${t}`, { segment: `s${s}` });
    const clicks = d.chosen.flatMap((id, j) =>
      users.next() < KAPPA[j]! * rho[s]![Number(id.slice(1))]! ? [{ id }] : [],
    );
    if (clicks.length > 0)
      await h.feedback(
        clicks.map((c) => ({ userId: `u${t}`, decisionId: d.decisionId, type: 'click', actionId: c.id })),
      );
    if (t >= DECISIONS / 2) {
      if (d.chosen[0] === `a${ACTIONS - 1}`) newcomerTop += 1 / (DECISIONS / 2);
      served += d.chosen.reduce((v, id, j) => v + KAPPA[j]! * rho[s]![Number(id.slice(1))]!, 0);
      const top = [...rho[s]!].sort((p, q) => q - p);
      best += KAPPA.reduce((v, k, j) => v + k * top[j]!, 0);
    }
  }
  const model = await h.models.get(h.decisionPoint);
  return { share: served / best, kappa: model.examination, newcomerTop };
}

/** The position rules compared: the engine's, and three fixed ones. */
export const POSITION_RULES: Record<string, PositionModel | undefined> = {
  'slot-aware': undefined,
  'slot 1 only': () => [1, 0, 0],
  pooled: () => [1, 1, 1],
  'true κ': () => KAPPA,
};

export interface SlotsLearningResult {
  newcomer: boolean;
  seeds: number[];
  rules: Record<string, { share: number[]; newcomerTop: number[]; kappa: number[][] }>;
}

export const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

export async function runSlotsLearning(options: {
  seeds: number[];
  newcomer: boolean;
  rules?: readonly string[];
}): Promise<SlotsLearningResult> {
  const rules: SlotsLearningResult['rules'] = {};
  for (const name of options.rules ?? Object.keys(POSITION_RULES)) {
    const o = { share: [] as number[], newcomerTop: [] as number[], kappa: [] as number[][] };
    for (const seed of options.seeds) {
      const r = await runSlotsWorld(seed, POSITION_RULES[name], options.newcomer);
      o.share.push(r.share);
      o.newcomerTop.push(r.newcomerTop);
      o.kappa.push([...r.kappa]);
    }
    rules[name] = o;
  }
  return { newcomer: options.newcomer, seeds: options.seeds, rules };
}

export function formatSlotsLearning(results: readonly SlotsLearningResult[]): string {
  const lines = [
    `Three slots, κ = (1, 0.5, 0.25), ${SEGMENTS} segments, ${ACTIONS} actions, ${DECISIONS} decisions through the`,
    "engine (memory adapters); quality over the second half: the served pages' expected clicks as a share of the best",
    "page's, mean over seeds (min–max). With a newcomer: the best action joins halfway; the share of decisions that put",
    'it in slot 1.',
    '',
    '| catalog | rule | page share | newcomer in slot 1 |',
    '|---|---|---:|---:|',
  ];
  for (const r of results) {
    for (const [name, v] of Object.entries(r.rules)) {
      const range = `${Math.min(...v.share).toFixed(3)}–${Math.max(...v.share).toFixed(3)}`;
      lines.push(
        `| ${r.newcomer ? 'newcomer halfway' : 'fixed'} | ${name} | ${mean(v.share).toFixed(3)} (${range}) | ${r.newcomer ? mean(v.newcomerTop).toFixed(3) : ''} |`,
      );
    }
  }
  lines.push('');
  for (const r of results) {
    const k = r.rules['slot-aware']?.kappa;
    if (k)
      lines.push(
        `Learned κ (${r.newcomer ? 'newcomer' : 'fixed'}), per seed: ${k.map((x) => x.map((v) => v.toFixed(2)).join('/')).join('; ')}.`,
      );
  }
  return `${lines.join('\n')}\n`;
}

export async function runSlotsLearningBench(options: { seeds?: number }) {
  const seeds = Array.from({ length: options.seeds ?? 10 }, (_, i) => i + 1);
  return [await runSlotsLearning({ seeds, newcomer: false }), await runSlotsLearning({ seeds, newcomer: true })];
}
