/** An in-memory BlobStore: for unit tests and the offline-pass benchmark (no disk in the measurement). */
import type { BlobEntry, BlobStore } from '../../app/retrain/ports.ts';

export class MemoryBlobStore implements BlobStore {
  readonly objects = new Map<string, Uint8Array>();

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key);
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.objects.set(key, typeof body === 'string' ? new TextEncoder().encode(body) : body);
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    return [...this.objects]
      .filter(([k]) => k.startsWith(prefix))
      .map(([key, v]) => ({ key, size: v.byteLength }))
      .sort((p, q) => (p.key < q.key ? -1 : p.key > q.key ? 1 : 0));
  }
}
