/**
 * The twin's S3 behaves as S3 does when a key is overwritten while it is read: a PUT is atomic, so every GET returns
 * one whole object some PUT wrote, with that object's own length and ETag (the MD5 of its bytes); never an empty,
 * partial or mixed one, and never a failed read. The snapshot design relies on it (a container reads a fixed key the
 * publisher overwrites). Against the emulators `startEmulators` runs, with bodies written here.
 */
import { createHash } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulators, startEmulators } from '../../local/emulators.ts';

let emu: Emulators;
const BUCKET = 'atomic';

beforeAll(async () => {
  emu = await startEmulators();
  await emu.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 60_000);
afterAll(async () => {
  await emu?.close();
});

/** Version i: a header naming it, then filler, lengths differing by version (so a mixed read cannot look whole). */
function body(i: number): Buffer {
  const head = Buffer.from(`version ${i};`);
  return Buffer.concat([head, Buffer.alloc(20_000 + (i % 7) * 9_000, 97 + (i % 26))]);
}

describe('the twin S3: overwrites are atomic for readers', () => {
  it('every GET during 40 overwrites of one key returns a whole written version with its own length and ETag', async () => {
    const key = 'r0/dp/model.snap';
    const written = new Map<string, Buffer>();
    const put = async (i: number) => {
      const b = body(i);
      written.set(`version ${i};`, b);
      await emu.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: b }));
    };
    await put(0);
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 40; i++) await put(i);
      writing = false;
    })();
    const problems: string[] = [];
    let reads = 0;
    const reader = async () => {
      while (writing) {
        reads++;
        try {
          const r = await emu.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
          const bytes = Buffer.from(await r.Body!.transformToByteArray());
          const name = bytes.subarray(0, bytes.indexOf(59) + 1).toString();
          const expected = written.get(name);
          if (!expected?.equals(bytes)) problems.push(`read ${bytes.length} bytes that no PUT wrote`);
          else if (r.ContentLength !== bytes.length) problems.push(`length ${r.ContentLength} for ${bytes.length}`);
          else if (r.ETag !== `"${createHash('md5').update(bytes).digest('hex')}"`) problems.push(`ETag ${r.ETag}`);
        } catch (err) {
          problems.push(`read failed: ${String(err)}`);
        }
      }
    };
    await Promise.all([writer, ...Array.from({ length: 8 }, reader)]);
    expect(reads).toBeGreaterThan(40);
    expect(problems).toEqual([]);
  }, 60_000);
});
