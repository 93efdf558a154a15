/**
 * Decisions must not depend on the reward's unit (issue 13): a decision point whose events are worth 0/1 and the same
 * one whose events are worth 0/50 make the same decisions, with the engine's defaults. The engine's own serving policy
 * plays a synthetic world twice, with every reward amount multiplied by 50 the second time, from the same seed: the
 * choices are then identical, so the expected reward of the choices is the same and the realized reward exactly 50×.
 */
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../sim/settings.ts';
import { simulate } from '../../sim/simulate.ts';
import { warmStart } from '../../sim/warm-start.ts';
import { generateWorld } from '../../sim/world.ts';

function play(seed: number, unit: number, rounds: number) {
  const world = generateWorld({ seed, rounds, historyRounds: 2_000, churnEvery: 1_000 });
  const base = parseSettings(world.config, 'world').settings;
  const rewards = Object.fromEntries(Object.entries(base.rewards).map(([k, v]) => [k, v * unit]));
  // The engine's defaults: only the dimensions and the reward amounts are given.
  const settings = parseSettings(
    { contextDim: base.contextDim, actionDim: base.actionDim, rewards },
    'defaults',
  ).settings;
  const history = world.history.map((value, i) => ({ value, line: i + 1 }));
  return simulate(world.online, { settings, policy: 'hybrid', seed, warmStart: warmStart(history, settings) }).result();
}

describe('decisions are invariant to the reward unit', () => {
  it.each([1, 2])('world %i: rewards × 50 give the same choices', (seed) => {
    const one = play(seed, 1, 3_000);
    const fifty = play(seed, 50, 3_000);
    expect(fifty.meanExpectedReward).toBe(one.meanExpectedReward);
    expect(fifty.meanReward).toBeCloseTo(50 * one.meanReward, 9);
  });
});
