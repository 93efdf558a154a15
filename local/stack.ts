/**
 * The whole engine on this machine: emulators, tables and stream, the Lambda handlers behind a local HTTP server, and
 * a poller feeding the stream to the updater handler. Used by `npm start`, the end-to-end tests and the benchmarks.
 *
 * The handlers read their configuration from the environment when first imported (as in a Lambda container), so
 * this function sets the environment first and imports them after; one stack per process.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDeadLetterStore } from '../shared/adapters/dynamodb/dead-letter-store.ts';
import { DynamoDecisionStore } from '../shared/adapters/dynamodb/decision-store.ts';
import { DynamoStateStore } from '../shared/adapters/dynamodb/state-store.ts';
import { FsBlobStore } from '../shared/adapters/lake/fs-blob-store.ts';
import { hashApiKey } from '../shared/app/auth.ts';
import { type Emulators, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from './emulators.ts';
import { startHttpServer } from './http-server.ts';
import { KinesisPoller, type PollerOptions } from './kinesis-poller.ts';
import { LakeWriter } from './lake-writer.ts';

/** Written into the data dir while a stack runs, so `npm run retrain` can reach its DynamoDB emulator. */
export const LOCAL_ENDPOINTS_FILE = 'local-endpoints.json';

export interface LocalStackOptions {
  /** HTTP port; 0 picks a free one. */
  port?: number;
  /** Persist emulator data here; in memory when absent. */
  dataDir?: string;
  /** The admin API key to accept (stored hashed). */
  apiKey: string;
  modelRefreshMs?: number;
  statsPartitions?: number;
  poller?: PollerOptions;
  /**
   * Folder of the log lake (`<lakeDir>/lake/…`), written by a second stream consumer as Firehose does in AWS.
   * Default: `dataDir` when set; without either, no lake is written.
   */
  lakeDir?: string;
}

export interface LocalStack {
  url: string;
  apiKey: string;
  emulators: Emulators;
  stores: { state: DynamoStateStore; decisions: DynamoDecisionStore; deadLetters: DynamoDeadLetterStore };
  /** Batches the local event source mapping delivered, by outcome. */
  counters: { batches: number; records: number; partialFailures: number; abandoned: number };
  /** The lake writer and the folder it writes, when the stack writes a lake. */
  lake: { dir: string; writer: LakeWriter } | undefined;
  stop(): Promise<void>;
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const emulators = await startEmulators(opts.dataDir ? { dataDir: opts.dataDir } : {});
  const r = emulators.resources;
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_KINESIS: emulators.kinesisEndpoint,
    STATE_TABLE: r.stateTable,
    DECISIONS_TABLE: r.decisionsTable,
    DEADLETTER_TABLE: r.deadLetterTable,
    STREAM_NAME: r.streamName,
    MODEL_REFRESH_MS: String(opts.modelRefreshMs ?? 1000),
    STATS_PARTITIONS: String(opts.statsPartitions ?? 4),
  });
  const stores = {
    state: new DynamoStateStore(emulators.dynamo, r.stateTable),
    decisions: new DynamoDecisionStore(emulators.dynamo, r.decisionsTable),
    deadLetters: new DynamoDeadLetterStore(emulators.dynamo, r.deadLetterTable),
  };
  await stores.state.putApiKey({
    keyId: 'local-admin',
    hash: hashApiKey(opts.apiKey),
    name: 'local admin key (NBA_API_KEY)',
    scopes: ['admin', 'decide', 'feedback'],
    createdAt: Date.now(),
  });

  const [decisions, events, admin, updater] = await Promise.all([
    import('../functions/decisions/handler.ts'),
    import('../functions/events/handler.ts'),
    import('../functions/admin/handler.ts'),
    import('../functions/updater/handler.ts'),
  ]);
  const { server, url } = await startHttpServer(
    { decisions: decisions.handler, events: events.handler, admin: admin.handler },
    opts.port ?? 0,
  );
  const counters = { batches: 0, records: 0, partialFailures: 0, abandoned: 0 };
  const poller = new KinesisPoller(emulators.kinesis, r.streamName, updater.handler, {
    pollIntervalMs: 50,
    ...opts.poller,
    onBatch: (info) => {
      counters.batches++;
      counters.records += info.records;
      if (info.failedFrom !== undefined) counters.partialFailures++;
      opts.poller?.onBatch?.(info);
    },
    onFailure: (info) => {
      counters.abandoned++;
      opts.poller?.onFailure?.(info);
    },
  });
  await poller.start();

  const lakeDir = opts.lakeDir ?? opts.dataDir;
  let lake: LocalStack['lake'];
  if (lakeDir) {
    // Its own checkpoints, only meaningful when the stream persists too (same data dir).
    const writer = new LakeWriter(emulators.kinesis, r.streamName, new FsBlobStore(lakeDir), {
      ...(opts.dataDir ? { checkpointFile: join(opts.dataDir, 'lake-checkpoints.json') } : {}),
    });
    await writer.start();
    lake = { dir: lakeDir, writer };
  }
  const endpointsFile = opts.dataDir ? join(opts.dataDir, LOCAL_ENDPOINTS_FILE) : undefined;
  if (endpointsFile) {
    writeFileSync(
      endpointsFile,
      JSON.stringify({ dynamoEndpoint: emulators.dynamoEndpoint, stateTable: r.stateTable, pid: process.pid }),
    );
  }

  return {
    url,
    apiKey: opts.apiKey,
    emulators,
    stores,
    counters,
    lake,
    async stop() {
      if (endpointsFile) rmSync(endpointsFile, { force: true });
      await lake?.writer.stop();
      await poller.stop();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await emulators.close();
    },
  };
}
