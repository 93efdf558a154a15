/**
 * The reduce step: merges the partials of every user bucket into one aggregate. Split items without their marker and
 * buckets without a partial are the ones whose worker failed within the Distributed Maps' tolerated failure
 * percentage; they are listed, so the gate can refuse to promote a model that lacks their data (serving would
 * otherwise drop those decisions).
 */
import { z } from 'zod';
import { count, decodeAggregate, emptyAggregate, encodeAggregate, mergeAggregate } from './aggregate.ts';
import { ArtifactError } from './errors.ts';
import { partialKey, reducedKey, splitDoneKey } from './keys.ts';
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

/**
 * Merges the join partials of every user bucket, and checks that every split item finished (its marker): a split
 * item that failed lost records of every bucket, a join bucket that failed lost its users' decisions.
 */
export async function reduce(ctx: RunContext, deps: { blobs: BlobStore }): Promise<RunContext> {
  const { run } = ctx;
  if (!ctx.plan) throw new ArtifactError('reduce needs the plan');
  const items = await readManifest(deps.blobs, ctx.plan.manifestKey);
  const merged = emptyAggregate();
  const missing: string[] = [];
  for (const item of items) {
    const marker = await deps.blobs.get(splitDoneKey(run, item.id));
    if (!marker) {
      missing.push(item.id);
      continue;
    }
    const counts = JSON.parse(Buffer.from(marker).toString('utf8')) as Record<string, unknown>;
    for (const name of ['invalidLines', 'bytesRead', 'objectsRead', 'erasedRecords'] as const) {
      if (typeof counts[name] === 'number') count(merged, name, counts[name]);
    }
    // Held by the lake, left out on purpose (split.ts, "Erased users"): covered, as far as the fit's check goes.
    const erased = (counts.erasedImpressions ?? {}) as Record<string, number>;
    for (const [b, n] of Object.entries(erased)) {
      merged.impressions.set(Number(b), (merged.impressions.get(Number(b)) ?? 0) + n);
    }
  }
  // Sequential on purpose: memory stays at one partial plus the running total, whatever the bucket count.
  for (const bucket of ctx.plan.buckets) {
    const key = partialKey(run, bucket);
    const body = await deps.blobs.get(key);
    if (!body) {
      missing.push(`b${bucket}`);
      continue;
    }
    mergeAggregate(merged, decodeAggregate(body, run.contextDim, key), run.maxEvalRounds, run.contextDim);
  }
  const key = reducedKey(run);
  await deps.blobs.put(key, encodeAggregate(merged, run.contextDim), 'application/gzip');
  const expected = items.length + ctx.plan.buckets.length;
  return {
    ...ctx,
    reduce: {
      key,
      itemsExpected: expected,
      itemsFound: expected - missing.length,
      missingItems: missing,
      counters: merged.counters,
    },
  };
}
