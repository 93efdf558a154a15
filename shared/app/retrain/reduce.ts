/**
 * The reduce step: merges the partials of every planned item into one aggregate. Items without a partial are the
 * ones whose worker failed within the Distributed Map's tolerated failure percentage; they are listed, so the gate
 * can refuse to promote a model that lacks their data (serving would otherwise drop those decisions).
 */
import { z } from 'zod';
import { decodeAggregate, emptyAggregate, encodeAggregate, mergeAggregate } from './aggregate.ts';
import { ArtifactError } from './errors.ts';
import { partialKey, reducedKey } from './keys.ts';
import type { BlobStore } from './ports.ts';
import { type PartitionItem, partitionItemSchema, type RunContext } from './run-context.ts';

export async function readManifest(blobs: BlobStore, key: string): Promise<PartitionItem[]> {
  const body = await blobs.get(key);
  if (!body) throw new ArtifactError(`manifest ${key} is missing`);
  try {
    return z.array(partitionItemSchema).parse(JSON.parse(Buffer.from(body).toString('utf8')));
  } catch (cause) {
    throw new ArtifactError(`manifest ${key} is unreadable`, { cause });
  }
}

export async function reduce(ctx: RunContext, deps: { blobs: BlobStore }): Promise<RunContext> {
  const { run } = ctx;
  if (!ctx.plan) throw new ArtifactError('reduce needs the plan');
  const items = await readManifest(deps.blobs, ctx.plan.manifestKey);
  const merged = emptyAggregate();
  const missing: string[] = [];
  // Sequential on purpose: memory stays at one partial plus the running total, whatever the item count.
  for (const item of items) {
    const key = partialKey(run, item.id);
    const body = await deps.blobs.get(key);
    if (!body) {
      missing.push(item.id);
      continue;
    }
    mergeAggregate(merged, decodeAggregate(body, run.contextDim, key), run.maxEvalRounds, run.contextDim);
  }
  const key = reducedKey(run);
  await deps.blobs.put(key, encodeAggregate(merged, run.contextDim), 'application/gzip');
  return {
    ...ctx,
    reduce: {
      key,
      itemsExpected: items.length,
      itemsFound: items.length - missing.length,
      missingItems: missing,
      counters: merged.counters,
    },
  };
}
