/**
 * The emulators' own process (spawned by `startEmulators`): dynalite and kinesalite are single-threaded JavaScript, and
 * in the process of the handlers they compete with them for one core. Here they get their own core. The parent learns
 * the ports over IPC; when the parent goes away (IPC disconnect), this process closes its servers and exits, so no
 * emulator outlives the test or benchmark that started it.
 *
 * Runs on Node's built-in type stripping (no tsx): keep this file free of enums, namespaces and parameter properties.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';

const dataDir = process.env.NBA_EMULATOR_DATA_DIR || undefined;

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

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  // Closing the servers closes their LevelDB stores, so a persistent data dir is flushed before the process ends.
  await Promise.all([close(dyn), close(kin)]);
  process.exit(0);
}

// A data folder another process holds fails when LevelDB opens it, after listening: one line, then exit.
process.on('uncaughtException', (err) => {
  process.stderr.write(`emulator: ${err.name}: ${err.message}\n`);
  process.exit(1);
});

const [dynamoPort, kinesisPort] = await Promise.all([listen(dyn), listen(kin)]);
process.on('message', (m) => {
  if (m === 'close') void shutdown();
});
process.on('disconnect', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
process.send?.({ ready: true, dynamoPort, kinesisPort });
