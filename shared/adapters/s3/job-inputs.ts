/**
 * The inputs of decision jobs, read from S3 by `s3://bucket/key` URL: the whole object (the plan step cuts it into
 * chunks of lines), a byte range of it (each chunk's worker reads only its own lines), and its size (the API refuses
 * a missing or empty input at once). Buckets outside `allowed` are refused before any call.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { JobInputs } from '../../app/decision-jobs/steps.ts';
import { ValidationError } from '../../core/errors.ts';

export class S3JobInputs implements JobInputs {
  constructor(
    private readonly client: S3Client,
    readonly allowed: readonly string[],
  ) {}

  private locate(url: string): { Bucket: string; Key: string } {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
    if (!m) throw new ValidationError(`input: ${url} is not an s3://bucket/key URL`);
    if (!this.allowed.includes(m[1]!)) {
      throw new ValidationError(
        `input: bucket ${m[1]} is not one this engine may read (${this.allowed.join(', ')}; more with the decisionJobInputBuckets setting)`,
      );
    }
    return { Bucket: m[1]!, Key: m[2]! };
  }

  async size(url: string): Promise<number | undefined> {
    try {
      return (await this.client.send(new HeadObjectCommand(this.locate(url)))).ContentLength ?? 0;
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NotFound' || name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async read(url: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    if (range && range.end <= range.start) return new Uint8Array();
    const out = await this.client.send(
      new GetObjectCommand({
        ...this.locate(url),
        ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}),
      }),
    );
    return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
  }
}
