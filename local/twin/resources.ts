/**
 * Creates the template's buckets, tables and streams in the emulators, and its secrets in the local secret store (idempotent:
 * a persistent data dir keeps them).
 */
import { randomInt } from 'node:crypto';
import { CreateTableCommand, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ResourceInUseException as StreamInUse,
} from '@aws-sdk/client-kinesis';
import { BucketAlreadyOwnedByYou, CreateBucketCommand } from '@aws-sdk/client-s3';
import { type EmulatorOptions, type Emulators, startEmulators } from '../emulators.ts';
import { defaultSynthesis, type SynthOptions, synthesize } from './assembly.ts';
import type { SecretSpec, TwinPlan } from './template.ts';

/** Where the twin keeps secrets: a folder of the data dir (FileSecretSource) or memory (MemorySecretSource). */
export interface LocalSecretStore {
  ensure(secretId: string, generate: () => string): void;
}

/** A value as Secrets Manager would generate it for the secret (uniform over its alphabet, from the OS's RNG). */
export function generateSecret(spec: SecretSpec): string {
  if ('literal' in spec.value) return spec.value.literal;
  const { length, alphabet } = spec.value.generate;
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/** Each secret of the template, generated once: a persistent store keeps its value, so pseudonyms stay stable. */
export function createSecrets(plan: TwinPlan, store: LocalSecretStore): void {
  for (const spec of plan.secrets) store.ensure(spec.arn, () => generateSecret(spec));
}

export async function createResources(plan: TwinPlan, emulators: Emulators): Promise<void> {
  try {
    for (const b of plan.buckets) {
      try {
        await emulators.s3.send(new CreateBucketCommand({ Bucket: b.name }));
      } catch (err) {
        if (!(err instanceof BucketAlreadyOwnedByYou) && (err as Error).name !== 'BucketAlreadyExists') throw err;
      }
    }
    for (const t of plan.tables) {
      try {
        await emulators.dynamo.send(new CreateTableCommand(t.create));
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw err;
      }
    }
    for (const s of plan.streams) {
      try {
        await emulators.kinesis.send(new CreateStreamCommand({ StreamName: s.name, ShardCount: s.shardCount }));
      } catch (err) {
        if (!(err instanceof StreamInUse)) throw err;
      }
      for (let i = 0; i < 100; i++) {
        const d = await emulators.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: s.name }));
        if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } catch (err) {
    const why = await emulators.failure();
    throw why ? new Error(`the emulators stopped: ${why}`, { cause: err }) : err;
  }
}

/** The emulators with the resources of the template (cdk.json's, or `synth`'s), e.g. on a data folder. */
export async function startEmulatorsWithResources(
  opts: EmulatorOptions & { synth?: SynthOptions } = {},
): Promise<{ emulators: Emulators; plan: TwinPlan }> {
  const { plan } = opts.synth ? synthesize(opts.synth) : defaultSynthesis();
  const emulators = await startEmulators(opts);
  try {
    await createResources(plan, emulators);
  } catch (err) {
    await emulators.close();
    throw err;
  }
  return { emulators, plan };
}
