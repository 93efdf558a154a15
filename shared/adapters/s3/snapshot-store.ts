/**
 * S3 implementation of the SnapshotStore port. Per decision point and replica r (0 … replicas − 1):
 * `r{r}/{dp}/model.snap` (the snapshot) and `r{r}/{dp}/pointer.json` (the pointer). Each replica lies under its own
 * key prefix, and S3 serves about 5,500 GETs per second per prefix: R replicas serve R times that (the arithmetic is in
 * docs/ARCHITECTURE.md §6). A reader reads its own replica (`readReplica`, chosen at random per container), so
 * containers spread evenly. The snapshot key is fixed, so nothing accumulates; a reader that fetches a snapshot newer
 * than the pointer it read sees a checksum mismatch and takes the new pointer at its next poll.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SnapshotPointer, SnapshotStore } from '../../core/ports.ts';
import { S3BlobStore } from './blob-store.ts';

export class S3SnapshotStore implements SnapshotStore {
  private readonly objects: S3BlobStore;

  constructor(
    client: S3Client,
    bucket: string,
    private readonly replicas = 1,
    private readonly readReplica = Math.floor(Math.random() * replicas),
  ) {
    this.objects = new S3BlobStore(client, bucket);
  }

  private key(replica: number, dp: string, name: string): string {
    return `r${replica}/${encodeURIComponent(dp)}/${name}`;
  }

  async publish(pointer: SnapshotPointer, snapshot: Uint8Array): Promise<void> {
    const dp = pointer.decisionPoint;
    const all = Array.from({ length: this.replicas }, (_, r) => r);
    await Promise.all(
      all.map((r) => this.objects.put(this.key(r, dp, 'model.snap'), snapshot, 'application/octet-stream')),
    );
    const body = JSON.stringify(pointer);
    await Promise.all(all.map((r) => this.objects.put(this.key(r, dp, 'pointer.json'), body, 'application/json')));
  }

  async getPointer(decisionPoint: string): Promise<SnapshotPointer | undefined> {
    const bytes = await this.objects.get(this.key(this.readReplica, decisionPoint, 'pointer.json'));
    return bytes && (JSON.parse(Buffer.from(bytes).toString('utf8')) as SnapshotPointer);
  }

  getSnapshot(decisionPoint: string): Promise<Uint8Array | undefined> {
    return this.objects.get(this.key(this.readReplica, decisionPoint, 'model.snap'));
  }
}
