/**
 * The two emulator servers, dynalite (DynamoDB) and kinesalite (Kinesis), on free loopback ports; persistent under
 * `dataDir` when given. Used both in the emulators' own process and in-process (`NBA_EMULATORS_IN_PROCESS=1`).
 *
 * Runs on Node's built-in type stripping too (no tsx): keep this file free of enums, namespaces and parameter
 * properties.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';

export interface EmulatorServers {
  dynamoPort: number;
  kinesisPort: number;
  /** Closes both servers (and so their LevelDB stores, flushing a persistent data dir). */
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
  const [dynamoPort, kinesisPort] = await Promise.all([listen(dyn), listen(kin)]);
  return { dynamoPort, kinesisPort, close: () => Promise.all([close(dyn), close(kin)]).then(() => undefined) };
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
