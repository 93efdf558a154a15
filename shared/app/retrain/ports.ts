/**
 * What the offline pipeline needs besides the engine's state store: an object store holding the log lake and the
 * runs' artifacts. S3 implements it in AWS (`shared/adapters/s3/`), a folder locally (`shared/adapters/lake/`).
 */
export interface BlobEntry {
  key: string;
  /** Bytes as stored (compressed size for gzip objects). */
  size: number;
}

export interface BlobStore {
  /** The object's bytes, or undefined when no object has this key. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Writes the whole object at once: a reader sees the old object or the new one, never a part. */
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<BlobEntry[]>;
}
