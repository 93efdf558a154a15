/**
 * The emulator servers, dynalite (DynamoDB), kinesalite (Kinesis) and s3rver (S3, made atomic per key as S3 is:
 * s3-atomic-store.ts), on free loopback ports; persistent
 * under `dataDir` when given (s3rver always keeps its objects in a folder: a temporary one without `dataDir`). Used both in the emulators' own process and in-process (`NBA_EMULATORS_IN_PROCESS=1`).
 *
 * Runs on Node's built-in type stripping too (no tsx): keep this file free of enums, namespaces and parameter
 * properties.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import S3rver from 's3rver';
import { makeAtomic, type S3rverObjectStore } from './s3-atomic-store.ts';

export interface EmulatorServers {
  dynamoPort: number;
  kinesisPort: number;
  s3Port: number;
  /** Closes the servers (and so their LevelDB stores, flushing a persistent data dir). */
  close(): Promise<void>;
}

export async function startEmulatorServers(dataDir: string | undefined): Promise<EmulatorServers> {
  const dyn: Server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir ? { path: join(dataDir, 'dynamodb') } : {}),
  });
  const kin: Server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 100,
    ...(dataDir ? { path: join(dataDir, 'kinesis') } : {}),
  });
  const s3Dir = dataDir ? join(dataDir, 's3') : mkdtempSync(join(tmpdir(), 'nba-s3-'));
  mkdirSync(s3Dir, { recursive: true });
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Dir });
  // S3 PUTs are atomic for readers; s3rver's are not.
  makeAtomic(s3.store as S3rverObjectStore);
  const [dynamoPort, kinesisPort, s3Address] = await Promise.all([listen(dyn), listen(kin), s3.run()]);
  return {
    dynamoPort,
    kinesisPort,
    s3Port: s3Address.port,
    close: async () => {
      await Promise.all([close(dyn), close(kin), s3.close()]);
      if (!dataDir) rmSync(s3Dir, { recursive: true, force: true });
    },
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}
