/**
 * The template's EventBridge schedules (`AWS::Events::Rule` with a ScheduleExpression), run locally: a `rate(N unit)`
 * rule fires every N units from the stack's start and starts each target with the rule's input, as EventBridge does.
 * `fire` starts a rule's targets at once (tests cannot wait a day). A `cron(…)` rule is not run locally: the twin
 * says so when it starts instead of guessing the next fire time.
 */
import type { ScheduleSpec } from './template.ts';

const UNIT_MS: Record<string, number> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** The period of a `rate(N unit)` expression in milliseconds; undefined for any other expression. */
export function ratePeriodMs(expression: string): number | undefined {
  const m = /^rate\((\d+) (minutes?|hours?|days?)\)$/.exec(expression.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

export type StartTarget = (targetArn: string, input: string | undefined) => Promise<void>;

export class TwinScheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  /** Rules the twin does not run, with why. */
  readonly skipped: { logicalId: string; why: string }[] = [];

  constructor(
    private readonly schedules: readonly ScheduleSpec[],
    private readonly start: StartTarget,
    private readonly onError: (logicalId: string, error: unknown) => void,
  ) {}

  begin(): void {
    for (const s of this.schedules) {
      const period = ratePeriodMs(s.expression);
      if (period === undefined) {
        this.skipped.push({ logicalId: s.logicalId, why: `${s.expression} is not a rate() expression` });
        continue;
      }
      const timer = setInterval(() => void this.fire(s.logicalId), period);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Starts every target of the rule now, with its input. */
  async fire(logicalId: string): Promise<void> {
    const rule = this.schedules.find((s) => s.logicalId === logicalId);
    if (!rule) throw new Error(`no schedule ${logicalId} in the template`);
    for (const t of rule.targets) {
      try {
        await this.start(t.arn, t.input);
      } catch (err) {
        this.onError(logicalId, err);
      }
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }
}
