/**
 * `npm start`: runs the whole engine locally on embedded defaults, seeds a demo decision point, prints where to reach
 * it, and shuts down cleanly on Ctrl-C. Data persists under `.local-data/` (delete the folder to start over).
 *   PORT          HTTP port (default 3000)
 *   NBA_API_KEY   the admin API key to accept (default: a random key generated on the first start and kept in
 *                 `<data>/api-key`, see local/api-key.ts); any key an earlier start accepted is revoked
 *   NBA_DATA_DIR  where the emulators keep their data (default: .local-data)
 *   NBA_SAMPLER_SEED  seeds the decisions' sampler (default: unseeded), so a session's decisions reproduce
 * It listens on 127.0.0.1 only, and refuses requests whose Host header names another server (DNS rebinding).
 */

import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { ensureLocalApiKey, localApiKeyPath } from './api-key.ts';
import { seedDemo } from './demo.ts';
import { startLocalStack } from './stack.ts';
import { startConflict } from './start-conflict.ts';

const port = Number(process.env.PORT ?? 3000);
const dataDir = resolve(process.env.NBA_DATA_DIR ?? '.local-data');
const fromEnv = process.env.NBA_API_KEY;
const stored = fromEnv === undefined ? ensureLocalApiKey(dataDir) : undefined;
const apiKey = fromEnv ?? stored!.key;
// Relative where that is shorter (the usual `.local-data/api-key`), else the absolute path.
const keyPath = localApiKeyPath(dataDir);
const keyFile = relative(process.cwd(), keyPath).startsWith('..') ? keyPath : relative(process.cwd(), keyPath);
const keyOrigin =
  stored === undefined
    ? '(from NBA_API_KEY)'
    : stored.created
      ? `(generated now, stored in ${keyFile})`
      : `(stored in ${keyFile})`;
const seed = process.env.NBA_SAMPLER_SEED;
if (seed !== undefined && !/^\d{1,9}$/.test(seed)) {
  console.error(`NBA_SAMPLER_SEED must be a whole number, got "${seed}"`);
  process.exit(2);
}
const checkpointFile = join(dataDir, 'checkpoints.json');
process.env.NBA_LOG_LEVEL ??= 'silent';

let checkpoints: Record<string, string> = {};
try {
  checkpoints = JSON.parse(readFileSync(checkpointFile, 'utf8'));
} catch {
  // First run: consume each shard from the trim horizon.
}

const stack = await startLocalStack({
  port,
  dataDir,
  apiKey,
  ...(seed !== undefined ? { samplerSeed: Number(seed) } : {}),
  // As CloudWatch would show it for a deployed function: the API answers 500, the reason is here.
  onDenied: (c) => console.error(`AccessDenied: ${c.principal} may not ${c.action} on ${c.resource}`),
  poller: {
    checkpoints,
    onCheckpoint: (shardId, seq) => {
      checkpoints[shardId] = seq;
    },
    onFailure: (f) =>
      console.error(`updater gave up on ${f.shardId} ${f.firstSequenceNumber}..${f.lastSequenceNumber}: ${f.error}`),
  },
}).catch((error: unknown) => {
  const conflict = startConflict(error, { dataDir, port });
  if (conflict === undefined) throw error;
  console.error(`npm start: ${conflict}`);
  process.exit(1);
});
const saveCheckpoints = () => writeFileSync(checkpointFile, JSON.stringify(checkpoints));
const timer = setInterval(saveCheckpoints, 2000);

await seedDemo(stack.url, apiKey);

console.log(`
NBA engine running locally
  API      ${stack.url}
  API key  ${apiKey}  ${keyOrigin} (header: x-api-key)
  console  ${stack.url}/console/#key=${encodeURIComponent(apiKey)}
           (or open ${stack.url}/console/ and type the key; the #key part never leaves the browser)
  data     ${dataDir}
  demo     decision point "homepage" with 4 actions

Try:
  export NBA_API_KEY=${apiKey}
  curl -s -X POST ${stack.url}/v1/decisions -H "x-api-key: $NBA_API_KEY" -H 'content-type: application/json' \\
    -d '{"decisionPoint":"homepage","userId":"u1","context":{"segment":"new","device":"mobile"}}'

Press Ctrl-C to stop.`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  let code = 0;
  try {
    await stack.stop();
  } catch (err) {
    console.error(String(err));
    code = 1;
  }
  saveCheckpoints();
  console.log('stopped');
  process.exit(code);
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
