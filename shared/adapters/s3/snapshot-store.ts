/**
 * S3 implementation of the SnapshotStore port. Per decision point and replica r (0 … replicas − 1):
 * `r{r}/{dp}/model.snap` (the snapshot) and `r{r}/{dp}/pointer.json` (the pointer). Each replica lies under its own
 * key prefix, and S3 serves about 5,500 GETs per second per prefix: R replicas serve R times that (the arithmetic is in
 * docs/ARCHITECTURE.md §6). A reader reads its own replica (`readReplica`, chosen at random per container), so
 * containers spread evenly. The snapshot key is fixed, so nothing accumulates; a reader that fetches a snapshot newer
 * than the pointer it read sees a checksum mismatch and takes the new pointer at its next poll.
 */
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SnapshotPointer, SnapshotStore } from '../../core/ports.ts';

export class S3SnapshotStore implements SnapshotStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly replicas = 1,
    private readonly readReplica = Math.floor(Math.random() * replicas),
  ) {}

  private key(replica: number, dp: string, name: string): string {
    return `r${replica}/${encodeURIComponent(dp)}/${name}`;
  }

  async publish(pointer: SnapshotPointer, snapshot: Uint8Array): Promise<void> {
    const dp = pointer.decisionPoint;
    const all = Array.from({ length: this.replicas }, (_, r) => r);
    await Promise.all(all.map((r) => this.put(this.key(r, dp, 'model.snap'), snapshot, 'application/octet-stream')));
    const body = JSON.stringify(pointer);
    await Promise.all(all.map((r) => this.put(this.key(r, dp, 'pointer.json'), body, 'application/json')));
  }

  async getPointer(decisionPoint: string): Promise<SnapshotPointer | undefined> {
    const bytes = await this.get(this.key(this.readReplica, decisionPoint, 'pointer.json'));
    return bytes && (JSON.parse(Buffer.from(bytes).toString('utf8')) as SnapshotPointer);
  }

  getSnapshot(decisionPoint: string): Promise<Uint8Array | undefined> {
    return this.get(this.key(this.readReplica, decisionPoint, 'model.snap'));
  }

  private async put(key: string, body: Uint8Array | string, contentType: string): Promise<void> {
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
    );
  }

  private async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }
}
