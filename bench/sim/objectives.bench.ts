/**
 * Several objectives on a synthetic population (issue 3): the engine trained on clicks alone, in `weighted` mode and
 * in `intent` mode, on the same world, users and outcome draws, through the whole engine in-process
 * (`sim/engine-harness.ts`: real catalog, decisions with their model cache, feedback ingestion and updater, over the
 * in-memory adapters).
 *
 * The world. Users have a `segment` and an `activity`; 40% are buyers (`bargain`, `loyal`) who may purchase after a
 * click, 60% (`browser`, `student`) never purchase: users differ in which goal is reachable. Actions have a `category`
 * (content, promo, premium), a `rebate`, a `price` and a `novelty`. Clicks favour content for everyone; purchases
 * favour promos with deep rebates for bargain hunters and premium offers for loyal customers, which are clicked less.
 * A click is worth 1 and a purchase 20: the business value of a round is clicks × 1 + purchases × 20.
 *
 * The three engines share the decision point's dimensions and the engine's default priors and exploration (learned from
 * the data: nothing is tuned) and differ only in what they learn:
 * - `clicks only`: `rewards: { click: 1 }`;
 * - `weighted`: objectives `click` (click: 1) and `purchase` (purchase: 20), `combine.mode: weighted`;
 * - `intent`: the same objectives, `combine.mode: intent` (minOutcomes 30, the default).
 * Each seed draws its own world; every engine then sees the same users and the same outcome draws in the same order
 * (common random numbers), and its Thompson draws are seeded with the same seed.
 *
 *   npx tsx bench/sim/objectives.bench.ts [--rounds 12000] [--seed 1] [--seeds 3]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCliArgs, parseNumberFlag } from '../../cli/lib/args.ts';
import { createRng, type Rng } from '../../shared/core/random.ts';
import type { DecisionPointSettingsInput, Features } from '../../shared/core/schemas.ts';
import { assertNoCollisions, EngineHarness } from '../../sim/engine-harness.ts';
import { lastWindowStart } from '../../sim/simulate.ts';

export interface ObjectivesBenchOptions {
  /** Decisions per run (default 12,000). */
  rounds?: number;
  /** First seed (default 1); seeds are `seed`, `seed + 1`, … */
  seed?: number;
  /** Number of seeds (default 3). */
  seeds?: number;
  /** Population size (default 2,000 users, each visiting many times). */
  users?: number;
  /** Called after every run, for progress. */
  onRun?: (config: string, seed: number, seconds: number) => void;
}

export const CLICK_VALUE = 1;
export const PURCHASE_VALUE = 20;
export const OBJECTIVE_CONFIGS = ['clicks only', 'weighted', 'intent'] as const;
export type ObjectiveConfig = (typeof OBJECTIVE_CONFIGS)[number];

/** Dimensions under which the world's features hash without collisions (checked when a world is built). */
const CONTEXT_DIM = 8;
const ACTION_DIM = 8;
const SEGMENTS = ['bargain', 'loyal', 'browser', 'student'] as const;
const SEGMENT_P = [0.2, 0.2, 0.3, 0.3];
const BUYERS = new Set<string>(['bargain', 'loyal']);
const CATEGORIES = ['content', 'promo', 'premium'] as const;
const ACTIONS_PER_CATEGORY = 3;
/** Click logit by category. */
const CLICK_CATEGORY = [0.6, -0.6, -0.4];
/** Purchase-given-click logit by buyer segment (bargain, loyal) and category. */
const BUY_CATEGORY = [
  [-1.0, 1.0, -1.5],
  [-1.0, -0.5, 1.2],
];

interface User {
  id: string;
  segment: (typeof SEGMENTS)[number];
  activity: number;
  context: Features;
}

interface WorldAction {
  id: string;
  category: number;
  rebate: number;
  price: number;
  novelty: number;
  clickQuality: number;
  buyQuality: number;
  features: Features;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const round3 = (v: number) => Math.round(v * 1000) / 1000;

function pick(rng: Rng, p: readonly number[]): number {
  let u = rng.next();
  for (let i = 0; i < p.length - 1; i++) {
    u -= p[i]!;
    if (u < 0) return i;
  }
  return p.length - 1;
}

/** The seeded population, catalog and truth of one world. */
export class ObjectivesWorld {
  readonly users: User[];
  readonly actions: WorldAction[];

  constructor(
    readonly seed: number,
    userCount: number,
  ) {
    const rng = createRng(`objectives-world-${seed}`);
    this.users = Array.from({ length: userCount }, (_, i) => {
      const segment = SEGMENTS[pick(rng, SEGMENT_P)]!;
      const activity = round3(rng.normal());
      return { id: `u${i}`, segment, activity, context: { segment, activity } };
    });
    this.actions = [];
    for (let c = 0; c < CATEGORIES.length; c++) {
      for (let j = 0; j < ACTIONS_PER_CATEGORY; j++) {
        const rebate = round3(c === 1 ? 0.2 + 0.3 * rng.next() : 0.05 * rng.next());
        const price = round3([-0.5, -0.3, 1.0][c]! + 0.3 * rng.normal());
        const novelty = round3(c === 0 ? 0.4 + 0.6 * rng.next() : 0.6 * rng.next());
        this.actions.push({
          id: `${CATEGORIES[c]}-${j}`,
          category: c,
          rebate,
          price,
          novelty,
          clickQuality: 0.15 * rng.normal(),
          buyQuality: 0.15 * rng.normal(),
          features: { category: CATEGORIES[c]!, rebate, price, novelty },
        });
      }
    }
    assertNoCollisions(
      this.users.map((u) => u.context),
      CONTEXT_DIM,
      'objectives world context',
    );
    assertNoCollisions(
      this.actions.map((a) => a.features),
      ACTION_DIM,
      'objectives world actions',
    );
  }

  clickProbability(u: User, a: WorldAction): number {
    return sigmoid(-1.6 + CLICK_CATEGORY[a.category]! + 0.5 * u.activity * (a.novelty - 0.5) + a.clickQuality);
  }

  /** P(purchase | click): zero for users who never purchase. */
  buyProbability(u: User, a: WorldAction): number {
    if (!BUYERS.has(u.segment)) return 0;
    const bargain = u.segment === 'bargain';
    const row = BUY_CATEGORY[bargain ? 0 : 1]!;
    const z = -1.5 + row[a.category]! + (bargain ? 3 * a.rebate - 0.6 * a.price : 0.4 * a.price) + a.buyQuality;
    return sigmoid(z);
  }

  /** The best expected value any action offers `u`. */
  bestValue(u: User): number {
    let best = 0;
    for (const a of this.actions) best = Math.max(best, this.expectedValue(u, a));
    return best;
  }

  /** Expected business value of showing `a` to `u`: P(click) × 1 + P(click) × P(buy | click) × 20. */
  expectedValue(u: User, a: WorldAction): number {
    const pc = this.clickProbability(u, a);
    return pc * CLICK_VALUE + pc * this.buyProbability(u, a) * PURCHASE_VALUE;
  }
}

/** The decision point settings of one configuration (everything but the reward definition is shared). */
export function objectiveSettings(config: ObjectiveConfig): DecisionPointSettingsInput {
  const base: DecisionPointSettingsInput = {
    description: `objectives bench: ${config}`,
    contextDim: CONTEXT_DIM,
    actionDim: ACTION_DIM,
  };
  if (config === 'clicks only') return { ...base, rewards: { click: CLICK_VALUE } };
  return {
    ...base,
    objectives: [
      { name: 'click', events: { click: CLICK_VALUE } },
      { name: 'purchase', events: { purchase: PURCHASE_VALUE } },
    ],
    combine: { mode: config === 'intent' ? 'intent' : 'weighted' },
  };
}

/** Last-window figures of one run (per decision, last 20% of the rounds). */
export interface ObjectiveRun {
  readonly config: ObjectiveConfig;
  readonly seed: number;
  /** Realized value per decision: Σ clicks × 1 + purchases × 20, over the last window. */
  readonly value: number;
  /** Expected value of the chosen actions (no outcome noise), over the last window. */
  readonly expected: number;
  readonly expectedBuyers: number;
  readonly expectedNonBuyers: number;
  /** Value per decision over the whole run (learning included), realized and expected. */
  readonly valueAllRounds: number;
  readonly expectedAllRounds: number;
  /** Last window: share of buyers' and of non-buyers' decisions that chose the user's best expected action. */
  readonly bestShareBuyers: number;
  readonly bestShareNonBuyers: number;
  /**
   * Last window: share of non-buyers' decisions that chose an action worth at least 90% of their best one (an action
   * they click: for them every purchase is worth 0, so this is the click-favoured category, whose actions differ by
   * only a few points of click rate among themselves).
   */
  readonly nearBestShareNonBuyers: number;
  /** Expected value per decision over the first quarter of the rounds (the early, learning phase). */
  readonly expectedFirstQuarter: number;
  /** Intent mode: the first decision (0-based) the purchase policy served, or -1 if it never did. */
  readonly purchasePolicyFrom: number;
  readonly clicksPerDecision: number;
  readonly purchasesPerDecision: number;
  /** Share of last-window decisions served by each policy (`default`, `weighted`, or an objective in intent mode). */
  readonly servedBy: Record<string, number>;
  /** Intent mode, last window: share of buyers' decisions served by the purchase policy, and of non-buyers'. */
  readonly purchasePolicyShareBuyers: number;
  readonly purchasePolicyShareNonBuyers: number;
  readonly seconds: number;
  /** CPU time of the run (user + system), comparable on a shared machine. */
  readonly cpuSeconds: number;
}

export interface ObjectivesBenchResult {
  readonly rounds: number;
  readonly users: number;
  readonly actions: number;
  readonly seeds: number[];
  readonly runs: ObjectiveRun[];
  /** Per seed: the oracle's (best expected action each round) and uniform's expected value over the last window. */
  readonly oracle: { seed: number; expected: number; buyers: number; nonBuyers: number }[];
  readonly uniform: { seed: number; expected: number }[];
}

/** Plays `rounds` decisions of one configuration on one world. */
export async function runObjectiveConfig(
  world: ObjectivesWorld,
  config: ObjectiveConfig,
  rounds: number,
): Promise<ObjectiveRun> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const h = await EngineHarness.create({ settings: objectiveSettings(config), seed: world.seed });
  for (const a of world.actions) await h.putAction(a.id, { features: a.features });
  const byId = new Map(world.actions.map((a) => [a.id, a]));
  // The same visitors and outcome draws for every configuration of this world.
  const rng = createRng(`objectives-rounds-${world.seed}`);
  const from = lastWindowStart(rounds);
  let value = 0;
  let valueAll = 0;
  let expectedAll = 0;
  let expectedQuarter = 0;
  const quarter = Math.max(1, Math.floor(rounds / 4));
  let purchasePolicyFrom = -1;
  let expected = 0;
  let clicks = 0;
  let purchases = 0;
  const group = {
    buyers: { n: 0, expected: 0, purchasePolicy: 0, best: 0, nearBest: 0 },
    nonBuyers: { n: 0, expected: 0, purchasePolicy: 0, best: 0, nearBest: 0 },
  };
  const servedBy: Record<string, number> = {};
  for (let t = 0; t < rounds; t++) {
    const user = world.users[rng.int(world.users.length)]!;
    const uClick = rng.next();
    const uBuy = rng.next();
    const d = await h.decide(user.id, user.context);
    const action = byId.get(d.chosen[0]!)!;
    const click = uClick < world.clickProbability(user, action);
    const purchase = click && uBuy < world.buyProbability(user, action);
    const events: { userId: string; decisionId: string; type: string }[] = [];
    if (click) events.push({ userId: user.id, decisionId: d.decisionId, type: 'click' });
    if (purchase) events.push({ userId: user.id, decisionId: d.decisionId, type: 'purchase' });
    if (events.length > 0) await h.feedback(events);
    const v = (click ? CLICK_VALUE : 0) + (purchase ? PURCHASE_VALUE : 0);
    const e = world.expectedValue(user, action);
    valueAll += v;
    expectedAll += e;
    if (t < quarter) expectedQuarter += e;
    if (purchasePolicyFrom < 0 && d.objective === 'purchase') purchasePolicyFrom = t;
    if (t < from) continue;
    value += v;
    expected += e;
    clicks += click ? 1 : 0;
    purchases += purchase ? 1 : 0;
    const g = BUYERS.has(user.segment) ? group.buyers : group.nonBuyers;
    g.n++;
    g.expected += e;
    if (d.objective === 'purchase') g.purchasePolicy++;
    if (e >= world.bestValue(user) - 1e-12) g.best++;
    if (e >= 0.9 * world.bestValue(user)) g.nearBest++;
    servedBy[d.objective] = (servedBy[d.objective] ?? 0) + 1;
  }
  const n = rounds - from;
  for (const k of Object.keys(servedBy)) servedBy[k] = servedBy[k]! / n;
  return {
    config,
    seed: world.seed,
    value: value / n,
    expected: expected / n,
    expectedBuyers: group.buyers.expected / group.buyers.n,
    expectedNonBuyers: group.nonBuyers.expected / group.nonBuyers.n,
    valueAllRounds: valueAll / rounds,
    expectedAllRounds: expectedAll / rounds,
    bestShareBuyers: group.buyers.best / group.buyers.n,
    bestShareNonBuyers: group.nonBuyers.best / group.nonBuyers.n,
    nearBestShareNonBuyers: group.nonBuyers.nearBest / group.nonBuyers.n,
    expectedFirstQuarter: expectedQuarter / quarter,
    purchasePolicyFrom,
    clicksPerDecision: clicks / n,
    purchasesPerDecision: purchases / n,
    servedBy,
    purchasePolicyShareBuyers: group.buyers.purchasePolicy / group.buyers.n,
    purchasePolicyShareNonBuyers: group.nonBuyers.purchasePolicy / group.nonBuyers.n,
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSecondsSince(cpu),
  };
}

/** The oracle's and uniform's expected value over the same last-window visits. */
function references(world: ObjectivesWorld, rounds: number) {
  const rng = createRng(`objectives-rounds-${world.seed}`);
  const from = lastWindowStart(rounds);
  let oracle = 0;
  let uniform = 0;
  const g = { buyers: { n: 0, v: 0 }, nonBuyers: { n: 0, v: 0 } };
  for (let t = 0; t < rounds; t++) {
    const user = world.users[rng.int(world.users.length)]!;
    rng.next();
    rng.next();
    if (t < from) continue;
    let best = 0;
    let sum = 0;
    for (const a of world.actions) {
      const e = world.expectedValue(user, a);
      best = Math.max(best, e);
      sum += e;
    }
    oracle += best;
    uniform += sum / world.actions.length;
    const grp = BUYERS.has(user.segment) ? g.buyers : g.nonBuyers;
    grp.n++;
    grp.v += best;
  }
  const n = rounds - from;
  return {
    oracle: {
      seed: world.seed,
      expected: oracle / n,
      buyers: g.buyers.v / g.buyers.n,
      nonBuyers: g.nonBuyers.v / g.nonBuyers.n,
    },
    uniform: { seed: world.seed, expected: uniform / n },
  };
}

export async function runObjectivesBench(opts: ObjectivesBenchOptions = {}): Promise<ObjectivesBenchResult> {
  const rounds = opts.rounds ?? 12_000;
  const first = opts.seed ?? 1;
  const seeds = Array.from({ length: opts.seeds ?? 3 }, (_, i) => first + i);
  const users = opts.users ?? 2000;
  const runs: ObjectiveRun[] = [];
  const oracle: ObjectivesBenchResult['oracle'] = [];
  const uniform: ObjectivesBenchResult['uniform'] = [];
  let actions = 0;
  for (const seed of seeds) {
    const world = new ObjectivesWorld(seed, users);
    actions = world.actions.length;
    const refs = references(world, rounds);
    oracle.push(refs.oracle);
    uniform.push(refs.uniform);
    for (const config of OBJECTIVE_CONFIGS) {
      const run = await runObjectiveConfig(world, config, rounds);
      runs.push(run);
      opts.onRun?.(config, seed, run.seconds);
    }
  }
  return { rounds, users, actions, seeds, runs, oracle, uniform };
}

/** CPU seconds (user + system) since `start`. */
export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

/** Mean and sample standard deviation. */
export function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, sd };
}

const f = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
const pm = (xs: readonly number[], digits = 3) => {
  const { mean, sd } = meanSd(xs);
  return `${f(mean, digits)} ± ${f(sd, digits)}`;
};

/** Per seed, `b − a` of a figure between two configurations. */
function paired(r: ObjectivesBenchResult, a: ObjectiveConfig, b: ObjectiveConfig, key: 'value' | 'expected'): number[] {
  return r.seeds.map((seed) => {
    const ra = r.runs.find((x) => x.config === a && x.seed === seed)!;
    const rb = r.runs.find((x) => x.config === b && x.seed === seed)!;
    return rb[key] - ra[key];
  });
}

/** The BENCHMARKS.md section: a table per configuration and a paragraph saying what the figures show. */
export function formatObjectivesBench(r: ObjectivesBenchResult): string {
  const of = (config: ObjectiveConfig) => r.runs.filter((x) => x.config === config);
  const oracle = meanSd(r.oracle.map((o) => o.expected)).mean;
  const rows = OBJECTIVE_CONFIGS.map((config) => {
    const runs = of(config);
    const expected = runs.map((x) => x.expected);
    return `| ${config} | ${pm(runs.map((x) => x.value))} | ${pm(expected)} | ${f((100 * meanSd(expected).mean) / oracle, 1)}% | ${pm(runs.map((x) => x.expectedBuyers))} | ${pm(runs.map((x) => x.expectedNonBuyers))} | ${pm(runs.map((x) => x.expectedAllRounds))} | ${f(meanSd(runs.map((x) => x.clicksPerDecision)).mean)} | ${f(meanSd(runs.map((x) => x.purchasesPerDecision)).mean, 4)} | ${expected.map((x) => f(x)).join(' / ')} |`;
  });
  const o = r.oracle;
  rows.push(
    `| oracle (best expected action) | – | ${pm(o.map((x) => x.expected))} | 100% | ${pm(o.map((x) => x.buyers))} | ${pm(o.map((x) => x.nonBuyers))} | – | – | – | ${o.map((x) => f(x.expected)).join(' / ')} |`,
    `| uniform | – | ${pm(r.uniform.map((x) => x.expected))} | ${f((100 * meanSd(r.uniform.map((x) => x.expected)).mean) / oracle, 1)}% | – | – | – | – | – | – |`,
  );
  return [
    `Synthetic population (\`bench/sim/objectives.bench.ts\`): ${r.users.toLocaleString('en-US')} users, 40% buyers who may purchase after a click and 60% who never purchase; ${r.actions} actions where clicks favour content and purchases favour rebated promos (bargain hunters) or premium offers (loyal customers). Click = 1, purchase = 20. The whole engine in-process over the in-memory adapters (real decisions, model cache refreshed every simulated second, feedback, updater every 10 decisions). ${r.rounds.toLocaleString('en-US')} decisions per run, seeds ${r.seeds.join(', ')} (each its own world; the three engines see the same visits and outcome draws). Figures are per decision over the last 20% of the rounds unless marked "all rounds", mean ± sd over seeds; "expected" is the true expected value of the chosen actions (no outcome noise), "value" the realized clicks × 1 + purchases × 20.`,
    '',
    '| engine | value | expected | of oracle | expected, buyers | expected, non-buyers | expected, all rounds | clicks | purchases | expected per seed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    interpretation(r),
  ].join('\n');
}

/** One paragraph, written from the figures: which engine wins, by how much, and where. */
function interpretation(r: ObjectivesBenchResult): string {
  const of = (config: ObjectiveConfig) => r.runs.filter((x) => x.config === config);
  const wVsClicks = paired(r, 'clicks only', 'weighted', 'expected');
  const iVsW = paired(r, 'weighted', 'intent', 'expected');
  const iVsWRealized = paired(r, 'weighted', 'intent', 'value');
  const w = of('weighted');
  const intent = of('intent');
  const diff = (key: keyof ObjectiveRun) => intent.map((x, k) => (x[key] as number) - (w[k]![key] as number));
  const mean = (config: ObjectiveConfig, key: keyof ObjectiveRun) =>
    meanSd(of(config).map((x) => x[key] as number)).mean;
  const share = (config: ObjectiveConfig, key: 'bestShareBuyers' | 'bestShareNonBuyers' | 'nearBestShareNonBuyers') =>
    `${f(100 * mean(config, key), 1)}%`;
  const sign = (v: number) => `${v >= 0 ? '+' : ''}${f(v)}`;
  const perSeed = (xs: number[]) => xs.map(sign).join(' / ');
  const allPositive = (xs: number[]) => xs.every((x) => x > 0);
  const allNegative = (xs: number[]) => xs.every((x) => x < 0);
  const from = intent.map((x) => x.purchasePolicyFrom);
  const parts: string[] = [];
  parts.push(
    allPositive(wVsClicks)
      ? `\`weighted\` earns more total objective value than the same engine trained on clicks alone on every seed (${sign(meanSd(wVsClicks).mean)} expected per decision; per seed ${perSeed(wVsClicks)}): clicks alone keep buyers on content, which they click but rarely buy.`
      : `\`weighted\` does **not** beat clicks alone on every seed (expected per decision, per seed: ${perSeed(wVsClicks)}).`,
  );
  parts.push(
    allPositive(iVsW)
      ? `Over the last window \`intent\` beats \`weighted\` on every seed (${sign(meanSd(iVsW).mean)} expected per decision, per seed ${perSeed(iVsW)}; realized ${perSeed(iVsWRealized)}).`
      : allNegative(iVsW)
        ? `Over the last window \`intent\` does **not** beat \`weighted\`: it earns less on every seed (expected per decision, per seed ${perSeed(iVsW)}; realized ${perSeed(iVsWRealized)}).`
        : `Over the last window \`intent\` and \`weighted\` are not separated (expected per decision, per seed ${perSeed(iVsW)}; realized ${perSeed(iVsWRealized)}).`,
  );
  parts.push(
    `By group, intent − weighted is ${sign(meanSd(diff('expectedBuyers')).mean)} per buyer decision (per seed ${perSeed(diff('expectedBuyers'))}) and ${sign(meanSd(diff('expectedNonBuyers')).mean)} per non-buyer decision. The user's best action was chosen for ${share('weighted', 'bestShareBuyers')} of buyers' and ${share('weighted', 'bestShareNonBuyers')} of non-buyers' decisions under \`weighted\`, ${share('intent', 'bestShareBuyers')} and ${share('intent', 'bestShareNonBuyers')} under \`intent\` (clicks only: ${share('clicks only', 'bestShareBuyers')} and ${share('clicks only', 'bestShareNonBuyers')}). Non-buyers were sent to an action worth at least 90% of their best (one they click) in ${share('weighted', 'nearBestShareNonBuyers')} of their decisions under \`weighted\` (per seed ${of(
      'weighted',
    )
      .map((x) => f(100 * x.nearBestShareNonBuyers, 1))
      .join(
        ' / ',
      )}%), ${share('intent', 'nearBestShareNonBuyers')} under \`intent\`. In intent mode the purchase policy served ${f(100 * mean('intent', 'purchasePolicyShareBuyers'), 1)}% of buyers' decisions and ${f(100 * mean('intent', 'purchasePolicyShareNonBuyers'), 1)}% of non-buyers'${
      mean('intent', 'purchasePolicyShareNonBuyers') < 0.05 && mean('intent', 'purchasePolicyShareBuyers') > 0.9
        ? ": the selector routes each group to the policy of the goal it can reach. Under `weighted` the purchase objective counts for each user by their reach share (its intent model's probability against the average rate), which is nothing for non-buyers once that model has 30 outcomes; for buyers `weighted` adds the click model's confident preference for content to the purchase model's still uncertain estimates of the offers they buy, which slows finding those offers."
        : '.'
    }`,
  );
  const firstQuarter = diff('expectedFirstQuarter');
  parts.push(
    `Intent mode pays at the start: an objective's policy is eligible only once it has \`minOutcomes\` (30) outcomes, clicks get there first, and the click policy then serves everyone, which keeps purchases rare; ${
      from.every((x) => x >= 0)
        ? `the purchase policy first served at decision ${from.map((x) => x.toLocaleString('en-US')).join(' / ')} (per seed)`
        : 'in at least one run the purchase policy never served'
    }, and over the first quarter of the rounds intent − weighted is ${perSeed(firstQuarter)} expected per decision. Over all rounds, learning included, it is ${perSeed(diff('expectedAllRounds'))}.`,
  );
  return parts.join(' ');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const v = parseCliArgs(process.argv.slice(2), {
    rounds: { type: 'string' },
    seed: { type: 'string' },
    seeds: { type: 'string' },
  });
  const result = await runObjectivesBench({
    ...(v.rounds !== undefined && { rounds: parseNumberFlag('rounds', v.rounds, { integer: true, above: 0 }) }),
    ...(v.seed !== undefined && { seed: parseNumberFlag('seed', v.seed, { integer: true, above: -1 }) }),
    ...(v.seeds !== undefined && { seeds: parseNumberFlag('seeds', v.seeds, { integer: true, above: 0 }) }),
    onRun: (config, seed, seconds) =>
      process.stderr.write(`objectives: ${config}, seed ${seed}: ${seconds.toFixed(1)} s\n`),
  });
  process.stdout.write(`${formatObjectivesBench(result)}\n`);
}
