/**
 * Starts the real-protocol AWS emulators (dynalite for DynamoDB, kinesalite for Kinesis, s3rver for S3) on free loopback ports, with
 * administrative clients (not subject to any role). The tables, streams and buckets are created from the synthesised template
 * by the twin (local/twin/resources.ts), never declared here.
 *
 * By default the emulators run in a child process (`emulator-process.ts`): they are single-threaded JavaScript, and in
 * the process of the handlers and the updater they took half of its CPU, capping local throughput. `inProcess: true`
 * keeps the old in-process mode (one process to debug).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { createDynamoClient, createKinesisClient, createS3Client } from '../shared/adapters/aws-clients.ts';
import { startEmulatorServers } from './emulator-servers.ts';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_REGION = 'us-east-1';
/** s3rver accepts only its own account's key (its signature check is real). */
const S3_EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An S3 client of the emulator at `s3Endpoint`, signing with the one key s3rver accepts. */
export function createEmulatorS3Client(s3Endpoint: string, region = LOCAL_REGION): S3Client {
  return createS3Client({ region, credentials: S3_EMULATOR_CREDENTIALS, s3Endpoint });
}

export interface Emulators {
  dynamoEndpoint: string;
  kinesisEndpoint: string;
  s3Endpoint: string;
  dynamo: DynamoDBClient;
  kinesis: KinesisClient;
  s3: S3Client;
  /** Why the emulators stopped, if they did (they open their data lazily: a held data folder fails on first use). */
  failure(): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface EmulatorOptions {
  /** Persists both emulators' LevelDB files there; without it, everything lives in memory. */
  dataDir?: string;
  /** Run the emulators in this process instead of a child process (default: `NBA_EMULATORS_IN_PROCESS=1`). */
  inProcess?: boolean;
}

interface Running {
  dynPort: number;
  kinPort: number;
  s3Port: number;
  stop(): Promise<void>;
  /** Why the emulators died, if they did (e.g. a data folder another process holds). */
  failure?(): Promise<string | undefined>;
}

export async function startEmulators(opts: EmulatorOptions = {}): Promise<Emulators> {
  // The unit tier (vitest.config.ts) sets this: a test that needs emulators belongs to the emu or http tier.
  const forbidden = process.env.NBA_FORBID_EMULATORS;
  if (forbidden) {
    throw new Error(
      `no emulators in the ${forbidden}: name the test *.emu.test.ts, or *.http.test.ts if it uses the twin`,
    );
  }
  if (opts.dataDir) {
    mkdirSync(join(opts.dataDir, 'dynamodb'), { recursive: true });
    mkdirSync(join(opts.dataDir, 'kinesis'), { recursive: true });
  }
  const inProcess = opts.inProcess ?? process.env.NBA_EMULATORS_IN_PROCESS === '1';
  const running = inProcess ? await startInProcess(opts.dataDir) : await startChild(opts.dataDir);
  const dynamoEndpoint = `http://127.0.0.1:${running.dynPort}`;
  const kinesisEndpoint = `http://127.0.0.1:${running.kinPort}`;
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamo = createDynamoClient({ ...common, dynamoEndpoint });
  const kinesis = createKinesisClient({ ...common, kinesisEndpoint });
  const s3Endpoint = `http://127.0.0.1:${running.s3Port}`;
  const s3 = createEmulatorS3Client(s3Endpoint);
  return {
    dynamoEndpoint,
    kinesisEndpoint,
    s3Endpoint,
    dynamo,
    kinesis,
    s3,
    failure: async () => running.failure?.(),
    async close() {
      dynamo.destroy();
      kinesis.destroy();
      s3.destroy();
      await running.stop();
    },
  };
}

async function startInProcess(dataDir: string | undefined): Promise<Running> {
  const servers = await startEmulatorServers(dataDir);
  return { dynPort: servers.dynamoPort, kinPort: servers.kinesisPort, s3Port: servers.s3Port, stop: servers.close };
}

const CHILD_SCRIPT = fileURLToPath(new URL('./emulator-process.ts', import.meta.url));

/** Forks `emulator-process.ts` on this Node (its built-in type stripping runs it) and waits for its ports. */
async function startChild(dataDir: string | undefined): Promise<Running> {
  const child: ChildProcess = fork(CHILD_SCRIPT, [], {
    env: { ...process.env, NBA_EMULATOR_DATA_DIR: dataDir ?? '' },
    // The parent may run under tsx or vitest loaders; the child needs none of them.
    execArgv: ['--disable-warning=ExperimentalWarning'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // Until it is ready, keep what the child says on stderr for the error; afterwards, pass it through.
  let early = '';
  const collect = (c: Buffer) => {
    early = (early + c.toString()).slice(-2000);
  };
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ports = await new Promise<{ dynamoPort: number; kinesisPort: number; s3Port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('emulator process did not start within 30 s')), 30_000);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as { dynamoPort: number; kinesisPort: number; s3Port: number });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const reason = early
        .split('\n')
        .find((l) => /Error/.test(l))
        ?.trim();
      reject(new Error(`emulator process exited with code ${code} before it was ready${reason ? `: ${reason}` : ''}`));
    });
  });
  child.stderr?.pipe(process.stderr);
  // An idle IPC channel must not keep the parent alive (e.g. a benchmark that forgets to close).
  child.unref();
  child.channel?.unref();
  return {
    dynPort: ports.dynamoPort,
    kinPort: ports.kinesisPort,
    s3Port: ports.s3Port,
    async failure() {
      // The request that failed may arrive before the child's exit does.
      if (child.exitCode === null && child.signalCode === null) {
        await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
      }
      if (child.exitCode === null && child.signalCode === null) return undefined;
      return (
        early
          .split('\n')
          .find((l) => /Error/.test(l))
          ?.trim() ?? `exit code ${child.exitCode}`
      );
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send('close');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}
