/**
 * Fast-mode simulation: plays online rounds against one policy in-process, with the engine's real core.
 *
 * Per round: the candidates are resolved (an action's features are encoded once, at first sight), the context is
 * encoded, the policy chooses, and only the chosen action's outcome is revealed, by the rule of `sim/outcome.ts`:
 * with no reward mapping configured (the settings' `rewards` empty), `rewards[chosen]`, even when the round also
 * has `events`; with a mapping, the chosen action's `events` scored with it when the round has `events`, else
 * `rewards[chosen]`. `onNotice` is told the rule once, at the first round that has both. Learning mirrors the
 * deployed engine: the impression is counted with reward 0 when decided, and the reward is added when it arrives,
 * immediately or, for a round with `delay: k`, at the end of the k-th following round. The model-based policies
 * rebuild their posterior every `refresh` rounds (default 50), standing in for the serving cache's periodic refresh,
 * and whenever a candidate is new to them.
 *
 * When every round carries `expected`, the run also reports the expected reward of its choices, of the oracle (the
 * best expected action each round) and of the uniform policy (the mean over the candidates), exactly, from the same
 * rounds: no extra runs, no sampling noise in the reference lines.
 */
import { encodeFeatures, FeatureEncodingError } from '../shared/core/features/encode.ts';
import { createRng } from '../shared/core/random.ts';
import { ActionTable } from './actions.ts';
import { SimFormatError, SimOptionError } from './errors.ts';
import type { Numbered, OnlineRound } from './formats.ts';
import { outcomeReward, rewardRuleNotice, scoresEvents } from './outcome.ts';
import { createPolicy, type Policy, type PolicyContext, type PolicyName, type PolicySettings } from './policies.ts';
import type { WarmStart } from './warm-start.ts';

/** Settings the simulator needs: the policy's plus the reward amounts per event type. */
export interface SimulationSettings extends PolicySettings {
  readonly rewards: Readonly<Record<string, number>>;
}

export interface SimulationOptions {
  readonly settings: SimulationSettings;
  /** A built-in policy by name (default `hybrid`), or a factory for one of your own (it gets the same context). */
  readonly policy?: PolicyName | ((ctx: PolicyContext) => Policy);
  readonly seed?: number;
  /** Rounds between posterior rebuilds (default 50). */
  readonly refresh?: number;
  readonly warmStart?: WarmStart;
  /** Names the online file in error messages (default `online`). */
  readonly source?: string;
  /** Called every 1,024 rounds with the number of rounds played. */
  readonly onProgress?: (rounds: number) => void;
  /** Called once, at the first round with both `rewards` and `events`, with the rule that decides which counts. */
  readonly onNotice?: (message: string) => void;
}

/** Mean expected reward overall and over the last 20% of rounds. */
export interface ExpectedFigures {
  readonly meanExpectedReward: number;
  readonly lastWindowMeanExpectedReward: number;
}

export interface SimulationResult<P extends string = string> {
  readonly policy: P;
  readonly rounds: number;
  readonly meanReward: number;
  /** Present when every round had `expected`. */
  readonly meanExpectedReward?: number;
  readonly lastWindowMeanExpectedReward?: number;
  readonly oracle?: ExpectedFigures;
  readonly uniform?: ExpectedFigures;
  /** Rounds over wall-clock time from the start of the run to its last round (reading and parsing included). */
  readonly roundsPerSecond: number;
  /** Delayed rewards still in flight when the rounds ran out (never learned). */
  readonly pendingRewards: number;
}

/** Mean expected reward per window of consecutive rounds, for learning curves. */
export interface Curve {
  /** Index of the first round of each window, plus the total at the end. */
  readonly bounds: number[];
  readonly policy: number[];
  readonly oracle: number[];
  readonly uniform: number[];
}

/** Share of the rounds, at the end, that the "last window" figures average over. */
export const LAST_WINDOW_SHARE = 0.2;

/** A round with `events` but none for the chosen action: the action earned nothing. */
const NO_EVENTS: Readonly<Record<string, number>> = Object.freeze({});

interface Pending {
  x: Float64Array;
  action: number;
  reward: number;
}

const SERIES_SHIFT = 16;
const SERIES_CHUNK = 1 << SERIES_SHIFT;
const SERIES_MASK = SERIES_CHUNK - 1;

/**
 * Per-round values in fixed chunks of 64 Ki values. The exact last-window figures and the curves need every round's
 * value, so this is the one thing that grows with the input: 8 bytes per round and series (24 bytes per round when
 * rounds carry `expected`, nothing otherwise), allocated a chunk at a time, never copied to grow.
 */
class Series {
  private readonly chunks: Float64Array[] = [];
  length = 0;
  push(v: number): void {
    const i = this.length & SERIES_MASK;
    if (i === 0) this.chunks.push(new Float64Array(SERIES_CHUNK));
    (this.chunks[this.chunks.length - 1] as Float64Array)[i] = v;
    this.length++;
  }
  mean(from: number, to: number): number {
    let s = 0;
    for (let i = from; i < to; i++) s += (this.chunks[i >>> SERIES_SHIFT] as Float64Array)[i & SERIES_MASK] as number;
    return to > from ? s / (to - from) : Number.NaN;
  }
}

/**
 * What every driver (in-process or through the stack) records per round: the realized reward, and when the round
 * has `expected`, the chosen action's, the oracle's and uniform's expected reward. Turns them into the reported
 * figures and learning curves.
 */
export class Scoreboard {
  private readonly chosenExpected = new Series();
  private readonly oracleExpected = new Series();
  private readonly uniformExpected = new Series();
  private rewardSum = 0;
  private count = 0;
  private allExpected = true;
  /** The clock starts when the scoreboard is created, i.e. with the run. */
  private readonly startedAt = performance.now();
  private elapsedMs = 0;

  get rounds(): number {
    return this.count;
  }

  /** Records one round in which the action `chosenId` was picked among `round.actions` and earned `reward`. */
  record(round: OnlineRound, chosenId: string, reward: number): void {
    this.rewardSum += reward;
    const expected = round.expected;
    if (expected !== undefined && this.allExpected) {
      let best = Number.NEGATIVE_INFINITY;
      let sum = 0;
      const acts = round.actions;
      for (let i = 0; i < acts.length; i++) {
        const e = expected[(acts[i] as { id: string }).id] as number;
        if (e > best) best = e;
        sum += e;
      }
      this.chosenExpected.push(expected[chosenId] as number);
      this.oracleExpected.push(best);
      this.uniformExpected.push(sum / acts.length);
    } else this.allExpected = false;
    this.count++;
    this.elapsedMs = performance.now() - this.startedAt;
  }

  result<P extends string>(policy: P, pendingRewards: number): SimulationResult<P> {
    const n = this.count;
    const seconds = this.elapsedMs / 1000;
    const base = {
      policy,
      rounds: n,
      meanReward: n > 0 ? this.rewardSum / n : Number.NaN,
      roundsPerSecond: seconds > 0 ? n / seconds : Number.NaN,
      pendingRewards,
    };
    if (!this.allExpected || n === 0) return base;
    const from = lastWindowStart(n);
    const figures = (s: Series): ExpectedFigures => ({
      meanExpectedReward: s.mean(0, n),
      lastWindowMeanExpectedReward: s.mean(from, n),
    });
    const own = figures(this.chosenExpected);
    return {
      ...base,
      meanExpectedReward: own.meanExpectedReward,
      lastWindowMeanExpectedReward: own.lastWindowMeanExpectedReward,
      oracle: figures(this.oracleExpected),
      uniform: figures(this.uniformExpected),
    };
  }

  /** Mean expected reward of the policy, the oracle and uniform in `windows` consecutive windows. */
  curve(windows: number): Curve | undefined {
    const n = this.count;
    if (!this.allExpected || n === 0) return undefined;
    const w = Math.max(1, Math.min(windows, n));
    const bounds: number[] = [];
    for (let i = 0; i <= w; i++) bounds.push(Math.floor((i * n) / w));
    const series = (s: Series) => bounds.slice(0, -1).map((b, i) => s.mean(b, bounds[i + 1] as number));
    return {
      bounds,
      policy: series(this.chosenExpected),
      oracle: series(this.oracleExpected),
      uniform: series(this.uniformExpected),
    };
  }
}

/** One simulation run; feed it rounds with {@link Simulation.step}, then read {@link Simulation.result}. */
export class Simulation {
  readonly actions: ActionTable;
  private readonly policy: Policy;
  private readonly settings: SimulationSettings;
  private readonly source: string;
  private readonly x: Float64Array;
  readonly scoreboard = new Scoreboard();
  private lastT = Number.NEGATIVE_INFINITY;
  private prevIds: string[] = [];
  private candidates = new Int32Array(0);
  private readonly due = new Map<number, Pending[]>();
  private readonly pool: Float64Array[] = [];
  private pendingCount = 0;
  private readonly scoresEvents: boolean;
  private noticeGiven = false;

  constructor(private readonly options: SimulationOptions) {
    const refresh = options.refresh ?? 50;
    if (!Number.isInteger(refresh) || refresh < 1)
      throw new SimOptionError(`refresh must be an integer >= 1, got ${refresh}`);
    this.settings = options.settings;
    this.source = options.source ?? 'online';
    this.scoresEvents = scoresEvents(this.settings.rewards);
    this.actions = new ActionTable(this.settings.actionDim);
    this.x = new Float64Array(this.settings.contextDim);
    const ctx: PolicyContext = {
      settings: this.settings,
      actions: this.actions,
      rng: createRng(options.seed ?? 0),
      refresh,
    };
    const policy = options.policy ?? 'hybrid';
    this.policy = typeof policy === 'function' ? policy(ctx) : createPolicy(policy, ctx);
    for (const a of options.warmStart?.actions ?? []) {
      let index: number;
      try {
        index = this.actions.resolve(a.id, a.features);
      } catch (cause) {
        throw new SimOptionError(`warm-start action ${a.id}: ${(cause as Error).message}`, { cause });
      }
      if (a.stats.sxr.length !== this.settings.contextDim) {
        throw new SimOptionError(
          `warm-start statistics have d = ${a.stats.sxr.length}, settings say ${this.settings.contextDim}`,
        );
      }
      this.policy.warmStart(index, a.stats);
    }
  }

  private fail(line: number, detail: string, cause?: unknown): never {
    throw new SimFormatError(this.source, line, detail, { cause });
  }

  /** Resolves the round's candidates, reusing last round's index array when the candidate list is unchanged. */
  private resolveCandidates(round: OnlineRound, line: number): Int32Array {
    const acts = round.actions;
    const prev = this.prevIds;
    let same = acts.length === prev.length;
    for (let i = 0; same && i < acts.length; i++) same = (acts[i] as { id: string }).id === prev[i];
    if (same) return this.candidates;
    const out = new Int32Array(acts.length);
    const ids: string[] = new Array(acts.length);
    for (let i = 0; i < acts.length; i++) {
      const a = acts[i] as OnlineRound['actions'][number];
      let index: number;
      try {
        index = this.actions.resolve(a.id, a.features);
      } catch (cause) {
        if (cause instanceof FeatureEncodingError) this.fail(line, `actions[${i}].features: ${cause.message}`, cause);
        throw cause;
      }
      if (index < 0) this.fail(line, `actions[${i}] "${a.id}" has no features and was not seen before`);
      out[i] = index;
      ids[i] = a.id;
    }
    this.prevIds = ids;
    this.candidates = out;
    return out;
  }

  /** Plays one round (`line` names it in error messages). */
  step(round: OnlineRound, line: number): void {
    if (round.t < this.lastT) this.fail(line, `t ${round.t} is earlier than the previous round's ${this.lastT}`);
    this.lastT = round.t;
    const candidates = this.resolveCandidates(round, line);
    const x = this.x;
    try {
      encodeFeatures(round.context, this.settings.contextDim, x);
    } catch (cause) {
      if (cause instanceof FeatureEncodingError) this.fail(line, `context: ${cause.message}`, cause);
      throw cause;
    }
    const pos = this.policy.choose(x, candidates);
    const action = candidates[pos] as number;
    const id = (round.actions[pos] as { id: string }).id;
    const events = round.events;
    if (events !== undefined && !this.noticeGiven) {
      this.noticeGiven = true;
      this.options.onNotice?.(rewardRuleNotice(this.settings.rewards, 'online rounds', 'rewards'));
    }
    const r =
      events === undefined || !this.scoresEvents
        ? (round.rewards[id] as number)
        : outcomeReward(this.settings.rewards, events[id] ?? NO_EVENTS, 0);
    this.policy.impression(x, action);
    const now = this.scoreboard.rounds;
    const delay = round.delay ?? 0;
    if (delay === 0) this.policy.reward(x, action, r);
    else this.schedule(now + delay, action, r);
    this.scoreboard.record(round, id, r);

    const arrived = this.due.get(now);
    if (arrived !== undefined) {
      this.due.delete(now);
      for (const p of arrived) {
        this.policy.reward(p.x, p.action, p.reward);
        this.pool.push(p.x);
      }
      this.pendingCount -= arrived.length;
    }
    this.policy.endRound();
    if (((now + 1) & 1023) === 0) this.options.onProgress?.(now + 1);
  }

  private schedule(at: number, action: number, reward: number): void {
    const x = this.pool.pop() ?? new Float64Array(this.settings.contextDim);
    x.set(this.x);
    let list = this.due.get(at);
    if (list === undefined) {
      list = [];
      this.due.set(at, list);
    }
    list.push({ x, action, reward });
    this.pendingCount++;
  }

  result(): SimulationResult<string> {
    return this.scoreboard.result(this.policy.name, this.pendingCount);
  }

  curve(windows: number): Curve | undefined {
    return this.scoreboard.curve(windows);
  }
}

/** First round of the last window (the last 20% of `rounds`). */
export function lastWindowStart(rounds: number): number {
  return Math.min(rounds - 1, Math.floor(rounds * (1 - LAST_WINDOW_SHARE)));
}

/** Runs a simulation over rounds held in memory (line numbers are positions, 1-based). */
export function simulate(rounds: Iterable<OnlineRound>, options: SimulationOptions): Simulation {
  const sim = new Simulation(options);
  let line = 0;
  for (const round of rounds) sim.step(round, ++line);
  return sim;
}

/** Runs a simulation over a stream of parsed lines (see `readJsonLines`). */
export async function simulateStream(
  rounds: AsyncIterable<Numbered<OnlineRound>>,
  options: SimulationOptions,
): Promise<Simulation> {
  const sim = new Simulation(options);
  for await (const { value, line } of rounds) sim.step(value, line);
  return sim;
}
