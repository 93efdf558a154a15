/** The part of s3rver's API the emulators and the S3 adapter test use (the package ships no types). */
declare module 's3rver' {
  interface S3rverOptions {
    port?: number;
    address?: string;
    silent?: boolean;
    /** Where the emulated buckets live on disk. */
    directory: string;
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    /** Its filesystem store (local/s3-atomic-store.ts makes it atomic per key). */
    readonly store: unknown;
  }
}
