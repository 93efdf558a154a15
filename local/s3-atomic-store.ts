/**
 * Makes s3rver's object store atomic per key, as S3 is: a PUT replaces an object all at once, so a GET returns one whole
 * object some PUT wrote, with that object's own length and ETag, however it overlaps PUTs of the same key.
 *
 * Why: s3rver 3.7.1's filesystem store writes an object's bytes in place (the file is truncated, then written) and its
 * metadata (length, ETag) in other files, and reports a PUT done before the bytes are on disk. A GET that overlaps a PUT
 * of its key then reads an empty or partial object, or the bytes of one version under the length of another (the
 * client sees "aborted"). AWS never does that, and the snapshot design reads a fixed key its publisher overwrites, so
 * the twin must not either (test/twin/s3-atomic.emu.test.ts).
 *
 * The rule: per bucket and key, a readers-writer lock, first come first served. A PUT takes the key alone while it
 * writes the bytes (whole, awaited) and then the metadata; a DELETE and the destination of a COPY likewise. A GET shares
 * the key while it reads the metadata and the bytes into memory, then answers from memory, so the lock never waits on
 * a client. Objects in the twin are small (snapshots, lake files): holding one in memory is the price.
 *
 * Runs on Node's built-in type stripping too (no tsx): no enums, namespaces or parameter properties.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

/** The part of s3rver's FilesystemStore this wraps (its methods are replaced on the instance). */
export interface S3rverObjectStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  getObject(bucket: string, key: string, options?: unknown): Promise<StoredObject | null>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    metadata?: unknown,
  ): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

interface StoredObject {
  bucket: string;
  key: string;
  metadata: Record<string, string>;
  content: Readable | Buffer | null;
}

interface KeyLock {
  readers: number;
  writing: boolean;
  waiting: { write: boolean; grant: () => void }[];
}

export function makeAtomic(store: S3rverObjectStore): void {
  const locks = new Map<string, KeyLock>();
  const name = (bucket: string, key: string) => `${bucket}\u0000${key}`;

  const acquire = (id: string, write: boolean): Promise<() => void> => {
    let lock = locks.get(id);
    if (!lock) {
      lock = { readers: 0, writing: false, waiting: [] };
      locks.set(id, lock);
    }
    const l = lock;
    const release = () => {
      if (write) l.writing = false;
      else l.readers--;
      wake(id, l);
    };
    const free = !l.writing && l.waiting.length === 0 && (!write || l.readers === 0);
    if (free) {
      if (write) l.writing = true;
      else l.readers++;
      return Promise.resolve(release);
    }
    return new Promise((resolve) => {
      l.waiting.push({ write, grant: () => resolve(release) });
    });
  };

  const wake = (id: string, l: KeyLock) => {
    while (l.waiting.length > 0 && !l.writing) {
      const next = l.waiting[0]!;
      if (next.write && l.readers > 0) break;
      l.waiting.shift();
      if (next.write) l.writing = true;
      else l.readers++;
      next.grant();
    }
    if (!l.writing && l.readers === 0 && l.waiting.length === 0) locks.delete(id);
  };

  /** Runs `work` holding every key given, taken in one global order so two COPYs in opposite directions cannot wait
   * on each other. */
  const locked = async <T>(keys: { id: string; write: boolean }[], work: () => Promise<T>): Promise<T> => {
    const releases: (() => void)[] = [];
    try {
      for (const { id, write } of [...keys].sort((a, b) => (a.id < b.id ? -1 : 1))) {
        releases.push(await acquire(id, write));
      }
      return await work();
    } finally {
      for (const release of releases.reverse()) release();
    }
  };
  const reading = (bucket: string, key: string) => ({ id: name(bucket, key), write: false });
  const writing = (bucket: string, key: string) => ({ id: name(bucket, key), write: true });

  const getObject = store.getObject.bind(store);
  const copyObject = store.copyObject.bind(store);
  const deleteObject = store.deleteObject.bind(store);

  store.getObject = (bucket, key, options) =>
    locked([reading(bucket, key)], async () => {
      const object = await getObject(bucket, key, options);
      if (object?.content && !Buffer.isBuffer(object.content)) {
        object.content = Readable.from([await buffer(object.content)]);
      }
      return object;
    });

  store.putObject = async (object) => {
    // The body is read before the key is taken: a slow upload does not hold up readers.
    const { content } = object;
    const bytes = Buffer.isBuffer(content) ? content : content ? await buffer(content) : Buffer.alloc(0);
    const md5 = createHash('md5').update(bytes).digest('hex');
    return locked([writing(object.bucket, object.key)], async () => {
      const path = store.getResourcePath(object.bucket, object.key, 'object');
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
      await store.putMetadata(object.bucket, object.key, object.metadata, md5);
      return { size: bytes.length, md5 };
    });
  };

  store.copyObject = (srcBucket, srcKey, destBucket, destKey, metadata) => {
    const keys = [writing(destBucket, destKey)];
    if (name(srcBucket, srcKey) !== keys[0]!.id) keys.push(reading(srcBucket, srcKey));
    return locked(keys, () => copyObject(srcBucket, srcKey, destBucket, destKey, metadata));
  };

  store.deleteObject = (bucket, key) => locked([writing(bucket, key)], () => deleteObject(bucket, key));
}
