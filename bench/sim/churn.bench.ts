/**
 * Cold start under catalog churn (issue 4): how fast a new action whose features predict a high reward reaches the
 * users it suits, and how little a weak new action gets, with the hybrid model (shared part over user × action
 * features) against a per-action-only model, through the whole engine in-process (`sim/engine-harness.ts`: real
 * catalog writes and retirements, decisions with their model cache, feedback, updater, over the in-memory adapters).
 *
 * The world. Users have an `interest` (sports, music, travel, food) and an `engagement`; actions a `theme` (the same
 * four), an `appeal` and a `cost`. P(click) rises when the theme matches the interest and with appeal, falls with
 * cost, plus a small hidden quality per action that the features do not reveal. The catalog holds 16 live actions.
 * After a warm-up, every `churnEvery` decisions a churn event retires the previous event's newcomers and two ordinary
 * actions, and adds two ordinary actions (features drawn like the initial ones), two **strong** newcomers (a theme,
 * appeal ≈ 1.4: the best action by far for users with that interest) and two **weak** ones (appeal ≈ −1.1: worse than
 * every ordinary action for everyone). A newcomer's suited users are those whose interest is its theme.
 *
 * The two engines share everything but the action features:
 * - `hybrid`: actionDim 8, the action features as they are; priors and exploration of `worldSettings()` (the fast
 *   simulator's world, chosen there, not here): λs = 10, λa = 1000 (features explain most of an action's value);
 * - `per-action only`: the same engine with `actionDim: 1` and no features, so every action's feature vector is the
 *   bias alone: the shared part is then a context-only model common to all actions and carries no information about
 *   which action is which, and each action is learned from its own impressions. λa = 1/(1/λs + 1/λa) ≈ 9.9, the prior
 *   precision the hybrid puts on an action's whole coefficient vector (the rule `sim/policies.ts` uses for
 *   `lints-disjoint`), so a new action starts out as uncertain in both; with λa = 1000 it could not learn at all.
 *
 *   npx tsx bench/sim/churn.bench.ts [--seed 1] [--seeds 3] [--churn-every 1500] [--churns 8]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { createRng, type Rng } from '../../shared/core/random.ts';
import type { DecisionPointSettingsInput, Features } from '../../shared/core/schemas.ts';
import { assertNoCollisions, EngineHarness } from '../../sim/engine-harness.ts';
import { disjointLambda } from '../../sim/policies.ts';
import { worldSettings } from '../../sim/world.ts';
import { cpuSecondsSince, meanSd } from './objectives.bench.ts';

export interface ChurnBenchOptions {
  /** First seed (default 1); seeds are `seed`, `seed + 1`, … */
  seed?: number;
  /** Number of seeds (default 3). */
  seeds?: number;
  /** Decisions between churn events (default 1,500); also the warm-up before the first is 2 × this. */
  churnEvery?: number;
  /** Churn events per run (default 8). */
  churns?: number;
  /** Population size (default 2,000). */
  users?: number;
  onRun?: (model: string, seed: number, seconds: number) => void;
}

export const CHURN_MODELS = ['hybrid', 'per-action only'] as const;
export type ChurnModel = (typeof CHURN_MODELS)[number];
export type NewcomerKind = 'strong' | 'weak';
/** Cumulative windows (decisions since the catalog write) the newcomers' traffic share is measured over. */
export const WINDOWS = [100, 200, 500] as const;
/** The last stretch reported on its own: where a newcomer stands at the end of the measured 500 decisions. */
const LATE_FROM = 400;

const INTERESTS = ['sports', 'music', 'travel', 'food'] as const;
const LIVE = 16;
/** Dimensions under which the features hash without collisions (checked per world). */
const CONTEXT_DIM = 8;
const ACTION_DIM = 8;

interface User {
  id: string;
  interest: number;
  engagement: number;
  context: Features;
}

interface WorldAction {
  id: string;
  theme: number;
  appeal: number;
  cost: number;
  quality: number;
  kind: NewcomerKind | 'ordinary';
  features: Features;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const round3 = (v: number) => Math.round(v * 1000) / 1000;

function clickProbability(u: User, a: WorldAction): number {
  return sigmoid(
    -2.3 + (u.interest === a.theme ? 1.3 : 0) + 0.9 * a.appeal - 0.3 * a.cost + 0.2 * u.engagement + a.quality,
  );
}

function drawAction(rng: Rng, id: string, kind: WorldAction['kind'], theme: number): WorldAction {
  const appeal = round3(
    kind === 'strong' ? 1.3 + 0.2 * rng.next() : kind === 'weak' ? -1.0 - 0.2 * rng.next() : 0.5 * rng.normal(),
  );
  const cost = round3(0.5 * rng.normal());
  return {
    id,
    theme,
    appeal,
    cost,
    quality: 0.15 * rng.normal(),
    kind,
    features: { theme: INTERESTS[theme]!, appeal, cost },
  };
}

export function churnSettings(model: ChurnModel): DecisionPointSettingsInput {
  const world = worldSettings();
  const priors = world.priors as {
    lambdaShared: number;
    lambdaAction: number;
    noisePriorVariance: number;
    noisePriorWeight: number;
  };
  return {
    description: `churn bench: ${model}`,
    contextDim: CONTEXT_DIM,
    actionDim: model === 'hybrid' ? ACTION_DIM : 1,
    ...(world.exploration && { exploration: world.exploration }),
    priors: model === 'hybrid' ? priors : { ...priors, lambdaAction: disjointLambda(priors) },
    rewards: { click: 1 },
  };
}

/** One newcomer's traffic among its suited users' decisions, per window. */
export interface NewcomerTrace {
  readonly id: string;
  readonly kind: NewcomerKind;
  readonly seed: number;
  /** Which churn event brought it (0-based). */
  readonly event: number;
  /** Decisions of suited users in each window of {@link WINDOWS}, and how many of them chose the newcomer. */
  readonly suited: number[];
  readonly chosen: number[];
  /** The same over decisions 400–500. */
  readonly lateSuited: number;
  readonly lateChosen: number;
  /** Share of all decisions (any user) that chose it over its first 500. */
  readonly overallShare: number;
}

export interface ChurnRun {
  readonly model: ChurnModel;
  readonly seed: number;
  readonly newcomers: NewcomerTrace[];
  /** Mean expected click rate of the chosen actions over each 500-decision window after a churn event, and the oracle's. */
  readonly expectedAfterChurn: number;
  readonly oracleAfterChurn: number;
  readonly seconds: number;
  /** CPU time of the run (user + system), comparable on a shared machine. */
  readonly cpuSeconds: number;
}

export interface ChurnBenchResult {
  readonly seeds: number[];
  readonly churnEvery: number;
  readonly churns: number;
  readonly decisions: number;
  readonly users: number;
  readonly runs: ChurnRun[];
}

/** Plays one engine on one seed's world. */
export async function runChurnModel(
  model: ChurnModel,
  seed: number,
  opts: { churnEvery: number; churns: number; users: number },
): Promise<ChurnRun> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { churnEvery, churns } = opts;
  const worldRng = createRng(`churn-world-${seed}`);
  const users: User[] = Array.from({ length: opts.users }, (_, i) => {
    const interest = worldRng.int(INTERESTS.length);
    const engagement = round3(worldRng.normal());
    return { id: `u${i}`, interest, engagement, context: { interest: INTERESTS[interest]!, engagement } };
  });
  assertNoCollisions(
    users.map((u) => u.context),
    CONTEXT_DIM,
    'churn world context',
  );
  const h = await EngineHarness.create({ settings: churnSettings(model), seed });
  const put = (a: WorldAction) => h.putAction(a.id, { features: model === 'hybrid' ? a.features : {} });
  const catalogRng = createRng(`churn-catalog-${seed}`);
  const all = new Map<string, WorldAction>();
  let live: WorldAction[] = [];
  let next = 0;
  const add = async (kind: WorldAction['kind'], theme: number) => {
    const a = drawAction(catalogRng, `${kind}-${next++}`, kind, theme);
    all.set(a.id, a);
    live.push(a);
    await put(a);
    return a;
  };
  for (let i = 0; i < LIVE; i++) await add('ordinary', i % INTERESTS.length);
  assertNoCollisions(
    [...all.values()].map((a) => a.features),
    ACTION_DIM,
    'churn world actions',
  );

  const roundsRng = createRng(`churn-rounds-${seed}`);
  const warmUp = 2 * churnEvery;
  const total = warmUp + churns * churnEvery;
  const horizon = WINDOWS[WINDOWS.length - 1]!;
  interface Watch {
    action: WorldAction;
    event: number;
    from: number;
    suited: number[];
    chosen: number[];
    lateSuited: number;
    lateChosen: number;
    picked: number;
  }
  const watches: Watch[] = [];
  let newcomers: WorldAction[] = [];
  let expected = 0;
  let oracle = 0;
  let measured = 0;
  let sinceChurn = Number.POSITIVE_INFINITY;
  for (let t = 0; t < total; t++) {
    if (t >= warmUp && (t - warmUp) % churnEvery === 0) {
      // Retire last event's newcomers and two ordinary actions; add two ordinary, two strong and two weak ones.
      const ordinary = live.filter((a) => a.kind === 'ordinary');
      const leaving = new Set([
        ...newcomers.map((a) => a.id),
        ...[0, 1].map(() => ordinary.splice(catalogRng.int(ordinary.length), 1)[0]!.id),
      ]);
      for (const id of leaving) await h.retireAction(id);
      live = live.filter((a) => !leaving.has(a.id));
      const event = (t - warmUp) / churnEvery;
      newcomers = [];
      for (let j = 0; j < 2; j++) await add('ordinary', catalogRng.int(INTERESTS.length));
      // Strong newcomers cycle through the interests, two different ones per event.
      for (let j = 0; j < 2; j++) newcomers.push(await add('strong', (2 * event + j) % INTERESTS.length));
      for (let j = 0; j < 2; j++) newcomers.push(await add('weak', catalogRng.int(INTERESTS.length)));
      for (const a of newcomers) {
        watches.push({
          action: a,
          event,
          from: t,
          suited: [0, 0, 0],
          chosen: [0, 0, 0],
          lateSuited: 0,
          lateChosen: 0,
          picked: 0,
        });
      }
      sinceChurn = 0;
    }
    const user = users[roundsRng.int(users.length)]!;
    const u = roundsRng.next();
    const d = await h.decide(user.id, user.context);
    const chosen = all.get(d.chosen[0]!)!;
    const p = clickProbability(user, chosen);
    if (u < p) await h.feedback([{ userId: user.id, decisionId: d.decisionId, type: 'click' }]);
    if (sinceChurn < horizon) {
      expected += p;
      let best = 0;
      for (const a of live) best = Math.max(best, clickProbability(user, a));
      oracle += best;
      measured++;
    }
    sinceChurn++;
    for (const w of watches) {
      const k = t - w.from;
      if (k >= horizon) continue;
      const hit = chosen.id === w.action.id;
      if (hit) w.picked++;
      if (user.interest !== w.action.theme) continue;
      WINDOWS.forEach((limit, i) => {
        if (k < limit) {
          w.suited[i]!++;
          if (hit) w.chosen[i]!++;
        }
      });
      if (k >= LATE_FROM) {
        w.lateSuited++;
        if (hit) w.lateChosen++;
      }
    }
  }
  return {
    model,
    seed,
    newcomers: watches.map((w) => ({
      id: w.action.id,
      kind: w.action.kind as NewcomerKind,
      seed,
      event: w.event,
      suited: w.suited,
      chosen: w.chosen,
      lateSuited: w.lateSuited,
      lateChosen: w.lateChosen,
      overallShare: w.picked / horizon,
    })),
    expectedAfterChurn: expected / measured,
    oracleAfterChurn: oracle / measured,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSecondsSince(cpu),
  };
}

export async function runChurnBench(opts: ChurnBenchOptions = {}): Promise<ChurnBenchResult> {
  const churnEvery = opts.churnEvery ?? 1500;
  const churns = opts.churns ?? 8;
  const users = opts.users ?? 2000;
  if (churnEvery < WINDOWS[WINDOWS.length - 1]!) throw new RangeError(`churnEvery must be at least ${WINDOWS.at(-1)}`);
  const first = opts.seed ?? 1;
  const seeds = Array.from({ length: opts.seeds ?? 3 }, (_, i) => first + i);
  const runs: ChurnRun[] = [];
  for (const seed of seeds) {
    for (const model of CHURN_MODELS) {
      const run = await runChurnModel(model, seed, { churnEvery, churns, users });
      runs.push(run);
      opts.onRun?.(model, seed, run.seconds);
    }
  }
  return { seeds, churnEvery, churns, decisions: 2 * churnEvery + churns * churnEvery, users, runs };
}

/** Pooled share of suited users' decisions that chose newcomers of `kind`, per seed, for window `i` (or the late one). */
export function sharePerSeed(
  r: ChurnBenchResult,
  model: ChurnModel,
  kind: NewcomerKind,
  window: number | 'late',
): number[] {
  return r.runs
    .filter((x) => x.model === model)
    .map((run) => {
      let suited = 0;
      let chosen = 0;
      for (const n of run.newcomers) {
        if (n.kind !== kind) continue;
        suited += window === 'late' ? n.lateSuited : n.suited[window]!;
        chosen += window === 'late' ? n.lateChosen : n.chosen[window]!;
      }
      return suited > 0 ? chosen / suited : Number.NaN;
    });
}

/** Pooled over seeds: share of suited users' decisions that chose strong newcomers of each churn event, window `i`. */
export function strongShareByEvent(r: ChurnBenchResult, model: ChurnModel, window: number): number[] {
  return Array.from({ length: r.churns }, (_, event) => {
    let suited = 0;
    let chosen = 0;
    for (const run of r.runs) {
      if (run.model !== model) continue;
      for (const n of run.newcomers) {
        if (n.kind !== 'strong' || n.event !== event) continue;
        suited += n.suited[window]!;
        chosen += n.chosen[window]!;
      }
    }
    return suited > 0 ? chosen / suited : Number.NaN;
  });
}

/** How the strong newcomers' first-200 share moves from the first churn events to the later ones. */
function byEventSentence(r: ChurnBenchResult): string {
  const hybrid = strongShareByEvent(r, 'hybrid', 1);
  const perAction = strongShareByEvent(r, 'per-action only', 1);
  const text = `By churn event (first 200 decisions, pooled over seeds) the hybrid's strong newcomers got ${hybrid.map(pct).join(' / ')}, the per-action-only model's ${perAction.map(pct).join(' / ')}`;
  if (hybrid.length < 4) return `${text}.`;
  const early = meanSd(hybrid.slice(0, 2)).mean;
  const late = meanSd(hybrid.slice(2)).mean;
  return late > early + 0.1
    ? `${text}: the hybrid's first two events are its weakest, which fits a shared part that has seen only ordinary appeals until the first strong newcomers (appeal beyond that range) have been shown.`
    : `${text}.`;
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : 'n/a');
const pmPct = (xs: number[]) => {
  const { mean, sd } = meanSd(xs);
  return `${pct(mean)} ± ${(100 * sd).toFixed(1)}`;
};

/** The BENCHMARKS.md section: newcomers' traffic share per window for both engines, and what it shows. */
export function formatChurnBench(r: ChurnBenchResult): string {
  const windows: (number | 'late')[] = [0, 1, 2, 'late'];
  const rows: string[] = [];
  for (const kind of ['strong', 'weak'] as const) {
    for (const model of CHURN_MODELS) {
      const cells = windows.map((w) => pmPct(sharePerSeed(r, model, kind, w)));
      const overall = meanSd(
        r.runs
          .filter((x) => x.model === model)
          .flatMap((x) => x.newcomers.filter((n) => n.kind === kind).map((n) => n.overallShare)),
      ).mean;
      rows.push(`| ${kind} | ${model} | ${cells.join(' | ')} | ${pct(overall)} |`);
    }
  }
  const strong = (model: ChurnModel, w: number | 'late') => meanSd(sharePerSeed(r, model, 'strong', w)).mean;
  const weak = (model: ChurnModel, w: number | 'late') => meanSd(sharePerSeed(r, model, 'weak', w)).mean;
  const count = r.runs.find((x) => x.model === 'hybrid')?.newcomers.filter((n) => n.kind === 'strong').length ?? 0;
  const regret = (model: ChurnModel) =>
    meanSd(r.runs.filter((x) => x.model === model).map((x) => x.oracleAfterChurn - x.expectedAfterChurn)).mean;
  const gap = (w: number | 'late') => strong('hybrid', w) - strong('per-action only', w);
  const most =
    strong('hybrid', 1) > 0.5
      ? 'most of the traffic of the users it suits within a few hundred decisions, because its features place it at the top before it has any impression of its own'
      : strong('hybrid', 2) > 0.5
        ? 'most of the traffic of the users it suits, but only by 500 decisions'
        : 'not most of the traffic of the users it suits, even after 500 decisions';
  const paragraph = [
    `With the hybrid model a strong newcomer got ${pct(strong('hybrid', 0))} of its suited users' decisions in its first 100 decisions, ${pct(strong('hybrid', 1))} in its first 200 and ${pct(strong('hybrid', 2))} in its first 500 (${pct(strong('hybrid', 'late'))} over decisions 400–500): ${most}.`,
    `The per-action-only model gave it ${pct(strong('per-action only', 0))}, ${pct(strong('per-action only', 1))} and ${pct(strong('per-action only', 2))} (${pct(strong('per-action only', 'late'))} late): it must find the newcomer by exploring it, as it would any action.`,
    `The gap is ${(100 * gap(0)).toFixed(1)}, ${(100 * gap(1)).toFixed(1)} and ${(100 * gap(2)).toFixed(1)} percentage points over the three windows.`,
    byEventSentence(r),
    `Weak newcomers got ${pct(weak('hybrid', 2))} of their suited users' decisions over 500 decisions with the hybrid model against ${pct(weak('per-action only', 2))} per-action only (a uniform share would be ${pct(1 / LIVE)}).`,
    `Over the 500 decisions after each churn event the expected click rate fell short of the oracle's by ${regret('hybrid').toFixed(4)} per decision with the hybrid model and ${regret('per-action only').toFixed(4)} per action only.`,
  ].join(' ');
  return [
    `Catalog churn (\`bench/sim/churn.bench.ts\`): ${LIVE} live actions; after a warm-up of ${(2 * r.churnEvery).toLocaleString('en-US')} decisions, every ${r.churnEvery.toLocaleString('en-US')} decisions the previous newcomers and two ordinary actions retire and two ordinary, two strong and two weak newcomers appear (${r.churns} events, ${r.decisions.toLocaleString('en-US')} decisions per run, ${r.users.toLocaleString('en-US')} users, seeds ${r.seeds.join(', ')}: ${count} strong and ${count} weak newcomers per run). The whole engine in-process over the in-memory adapters; a catalog write reaches decisions at the next model refresh (1 simulated second = 10 decisions), rewards at the next updater batch. Share = decisions of the newcomer's suited users (interest = its theme, a quarter of the traffic) that chose it, pooled over a seed's newcomers, counted from the catalog write; mean ± sd over seeds. The per-action-only engine is the same engine with \`actionDim: 1\` (features collapse to the bias; λa ≈ 9.9, see the module).`,
    '',
    '| newcomer | engine | first 100 | first 200 | first 500 | decisions 400–500 | share of all traffic, first 500 |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    paragraph,
  ].join('\n');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    'churn-every': { type: 'string' },
    churns: { type: 'string' },
  });
  const result = await runChurnBench({
    ...(v.seed !== undefined && { seed: parseNumberFlag('seed', v.seed, { integer: true, above: -1 }) }),
    ...(v.seeds !== undefined && { seeds: parseNumberFlag('seeds', v.seeds, { integer: true, above: 0 }) }),
    ...(v['churn-every'] !== undefined && {
      churnEvery: parseNumberFlag('churn-every', v['churn-every'], { integer: true, above: 499 }),
    }),
    ...(v.churns !== undefined && { churns: parseNumberFlag('churns', v.churns, { integer: true, above: 0 }) }),
    onRun: (model, seed, seconds) => process.stderr.write(`churn: ${model}, seed ${seed}: ${seconds.toFixed(1)} s\n`),
  });
  process.stdout.write(`${formatChurnBench(result)}\n`);
}
