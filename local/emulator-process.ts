/**
 * The emulators' own process (spawned by `startEmulators`): dynalite and kinesalite are single-threaded JavaScript, and
 * in the process of the handlers they compete with them for one core. Here they get their own core. The parent learns
 * the ports over IPC; when the parent goes away (IPC disconnect), this process closes its servers and exits, so no
 * emulator outlives the test or benchmark that started it.
 *
 * Runs on Node's built-in type stripping (no tsx): keep this file free of enums, namespaces and parameter properties.
 */
import { startEmulatorServers } from './emulator-servers.ts';

const dataDir = process.env.NBA_EMULATOR_DATA_DIR || undefined;

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  // Closing the servers closes their LevelDB stores, so a persistent data dir is flushed before the process ends.
  await servers.close();
  process.exit(0);
}

// A data folder another process holds fails when LevelDB opens it, after listening: one line, then exit.
process.on('uncaughtException', (err) => {
  process.stderr.write(`emulator: ${err.name}: ${err.message}\n`);
  process.exit(1);
});

const servers = await startEmulatorServers(dataDir);
const { dynamoPort, kinesisPort, s3Port } = servers;
process.on('message', (m) => {
  if (m === 'close') void shutdown();
});
process.on('disconnect', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
process.send?.({ ready: true, dynamoPort, kinesisPort, s3Port });
