/**
 * In-memory implementation of the DeadLetterStore port, with the DynamoDB adapter's semantics: entries keyed by
 * `shardId/sequenceNumber` (a redelivered poison record lands on the same entry), written in BatchWriteItem chunks of
 * 25, where DynamoDB refuses a chunk that names the same key twice; `list` returns up to `limit` entries in no
 * particular order (a Scan).
 */
import type { DeadLetter } from '../../core/domain.ts';
import type { DeadLetterStore } from '../../core/ports.ts';
import { type Attributes, fromStored, toStored, validationError } from './item.ts';

const BATCH_WRITE_LIMIT = 25;

export class MemoryDeadLetterStore implements DeadLetterStore {
  private readonly table = new Map<string, Attributes>();

  async put(entries: readonly DeadLetter[]): Promise<void> {
    for (let i = 0; i < entries.length; i += BATCH_WRITE_LIMIT) {
      const chunk = entries
        .slice(i, i + BATCH_WRITE_LIMIT)
        .map((e) => toStored({ ...e }, ['id'], { removeUndefinedValues: true }));
      // BatchWriteItem validates the whole request before writing anything.
      if (new Set(chunk.map((a) => a.id!.S)).size !== chunk.length) {
        throw validationError('Provided list of item keys contains duplicates');
      }
      for (const attrs of chunk) this.table.set(attrs.id!.S!, attrs);
    }
  }

  async hold(entries: readonly DeadLetter[]): Promise<void> {
    for (const e of entries) {
      const attrs = toStored({ ...e }, ['id'], { removeUndefinedValues: true });
      // A held event's entry never replaces one that exists: resolved entries stay resolved.
      if (!this.table.has(e.id)) this.table.set(e.id, attrs);
    }
  }

  async list(limit: number): Promise<DeadLetter[]> {
    if (!(Number.isInteger(limit) && limit >= 1)) throw validationError(`Limit must be an integer >= 1, got ${limit}`);
    return [...this.table.values()].slice(0, limit).map((a) => fromStored(a) as unknown as DeadLetter);
  }
}
