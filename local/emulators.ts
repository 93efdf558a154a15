/**
 * Starts the real-protocol AWS emulators in this process (dynalite for DynamoDB, kinesalite for Kinesis) on free
 * loopback ports and creates the tables and the stream exactly as the CDK stack defines them.
 */
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { join } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient, ResourceInUseException as StreamInUse } from '@aws-sdk/client-kinesis';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import { createDynamoClient, createKinesisClient } from '../shared/adapters/aws-clients.ts';
import { STATE_INDEX_BY_UPDATED_AT } from '../shared/adapters/dynamodb/state-store.ts';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
export const LOCAL_REGION = 'us-east-1';

export interface LocalResources {
  stateTable: string;
  decisionsTable: string;
  deadLetterTable: string;
  streamName: string;
  shardCount: number;
}

export const DEFAULT_RESOURCES: LocalResources = {
  stateTable: 'nba-state',
  decisionsTable: 'nba-decisions',
  deadLetterTable: 'nba-deadletters',
  streamName: 'nba-events',
  shardCount: 2,
};

export interface Emulators {
  dynamoEndpoint: string;
  kinesisEndpoint: string;
  dynamo: DynamoDBClient;
  kinesis: KinesisClient;
  resources: LocalResources;
  close(): Promise<void>;
}

/** `dataDir` persists both emulators' LevelDB files there; without it, everything lives in memory. */
export async function startEmulators(opts: { dataDir?: string; resources?: LocalResources } = {}): Promise<Emulators> {
  const resources = opts.resources ?? DEFAULT_RESOURCES;
  if (opts.dataDir) {
    mkdirSync(join(opts.dataDir, 'dynamodb'), { recursive: true });
    mkdirSync(join(opts.dataDir, 'kinesis'), { recursive: true });
  }
  const dyn: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(opts.dataDir ? { path: join(opts.dataDir, 'dynamodb') } : {}) });
  const kin: Server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100, ...(opts.dataDir ? { path: join(opts.dataDir, 'kinesis') } : {}) });
  const dynPort = await listen(dyn);
  const kinPort = await listen(kin);
  const dynamoEndpoint = `http://127.0.0.1:${dynPort}`;
  const kinesisEndpoint = `http://127.0.0.1:${kinPort}`;
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamo = createDynamoClient({ ...common, dynamoEndpoint });
  const kinesis = createKinesisClient({ ...common, kinesisEndpoint });
  for (const t of tableDefinitions(resources)) {
    try {
      await dynamo.send(new CreateTableCommand(t));
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: resources.streamName, ShardCount: resources.shardCount }));
  } catch (err) {
    if (!(err instanceof StreamInUse)) throw err;
  }
  for (let i = 0; i < 100; i++) {
    const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: resources.streamName }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    dynamoEndpoint,
    kinesisEndpoint,
    dynamo,
    kinesis,
    resources,
    async close() {
      dynamo.destroy();
      kinesis.destroy();
      await Promise.all([close(dyn), close(kin)]);
    },
  };
}

/** The tables as the CDK stack declares them (keys, index), for the emulator. */
export function tableDefinitions(r: LocalResources): CreateTableCommandInput[] {
  return [
    {
      TableName: r.stateTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'updatedAt', AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: STATE_INDEX_BY_UPDATED_AT,
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'updatedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    },
    {
      TableName: r.decisionsTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'decisionId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'decisionId', KeyType: 'HASH' }],
    },
    {
      TableName: r.deadLetterTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    },
  ];
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}
