/**
 * The audit trail around a change (rules A1–A5 in `shared/core/audit.ts`): `begin` writes the pending entry before the
 * change runs and refuses the change when it cannot (A2); `settle` adds the outcome afterwards and logs the entry as
 * one structured line; `record` writes a change the engine made itself (a promotion) complete, in one write.
 *
 * `settle` never throws: the change has happened by then, and answering it with an error would invite a client to
 * make it twice. A failed settle leaves the entry `pending` in the table, logs the entry with its outcome (an
 * `audit outcome not recorded` error line) and calls `onIncomplete` (a metric with an alarm on AWS).
 */
import type { AuditAction, AuditEntry, AuditOutcome, AuditPage, AuditQuery } from '../../core/audit.ts';
import { AuditUnavailableError, resultOf } from '../../core/audit.ts';
import type { AuditLog } from '../../core/ports.ts';

/** What is known of a change before it runs. */
export interface AuditDraft {
  id: string;
  /** The acting key; or `system` for a change the engine made itself. */
  keyId?: string | undefined;
  system?: string | undefined;
  action: AuditAction;
  route: string;
  decisionPoint?: string | undefined;
  target?: string | undefined;
}

/** The outcome of a change, as the caller knows it. */
export type AuditSettlement = Omit<AuditOutcome, 'settledAt'>;

export interface AuditTrailOptions {
  now?: () => number;
  /** The structured log line of each settled entry (`audit`), and the error lines; default: none. */
  log?: (level: 'info' | 'error', message: string, fields: Record<string, unknown>) => void;
  /** An entry whose outcome could not be stored (it stays pending). */
  onIncomplete?: (entry: AuditEntry, error: unknown) => void;
}

export class AuditTrail {
  private readonly now: () => number;

  constructor(
    private readonly store: AuditLog,
    private readonly options: AuditTrailOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Writes the pending entry of a change about to run; throws AuditUnavailableError when it cannot (A2). */
  async begin(draft: AuditDraft): Promise<AuditEntry> {
    const entry: AuditEntry = { ...clean(draft), at: this.now(), result: 'pending' };
    try {
      await this.store.append(entry);
    } catch (error) {
      this.options.log?.('error', 'audit entry not written: change refused', { audit: entry, error: String(error) });
      throw new AuditUnavailableError('the audit trail cannot be written right now, so nothing was changed; retry', {
        cause: error,
      });
    }
    return entry;
  }

  /** Adds the outcome to a pending entry and logs the entry; never throws (see the module documentation). */
  async settle(entry: AuditEntry, settlement: AuditSettlement): Promise<AuditEntry> {
    const outcome: AuditOutcome = { ...clean(settlement), settledAt: this.now() };
    const settled: AuditEntry = {
      ...entry,
      ...clean({ target: outcome.target, detail: outcome.detail, code: outcome.code }),
      result: resultOf(outcome.status),
      status: outcome.status,
      settledAt: outcome.settledAt,
    };
    try {
      await this.store.settle(entry, outcome);
      this.options.log?.('info', 'audit', { audit: settled });
    } catch (error) {
      this.options.log?.('error', 'audit outcome not recorded: the entry stays pending', {
        audit: settled,
        error: String(error),
      });
      this.options.onIncomplete?.(settled, error);
    }
    return settled;
  }

  /** Records a change the engine made itself, complete in one write (idempotent for the same id and time). */
  async record(draft: AuditDraft, settlement: AuditSettlement, at = this.now()): Promise<AuditEntry> {
    const entry: AuditEntry = {
      ...clean(draft),
      ...clean({ target: settlement.target, detail: settlement.detail, code: settlement.code }),
      at,
      result: resultOf(settlement.status),
      status: settlement.status,
      settledAt: this.now(),
    };
    await this.store.append(entry);
    this.options.log?.('info', 'audit', { audit: entry });
    return entry;
  }

  list(query: AuditQuery): Promise<AuditPage> {
    return this.store.list(query);
  }
}

/** The object without its undefined fields (entries are compared and stored without them). */
function clean<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
