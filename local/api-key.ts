/**
 * The API key of local mode. Safe by default: unless NBA_API_KEY is set, `npm start` generates a random admin key on
 * its first start (`generateApiKey`, 32 random bytes) and stores it in the data folder (`<data>/api-key`, readable by
 * the owner only), so no two machines share a key that anyone could guess. The CLIs that call the local API read the
 * same file when they are given no key, so they work against `npm start` with no flag.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiKey } from '../shared/app/auth.ts';

/** Where the generated key is kept, inside the data folder. */
export const LOCAL_API_KEY_FILE = 'api-key';

export const localApiKeyPath = (dataDir: string) => join(dataDir, LOCAL_API_KEY_FILE);

/** The stored key of this data folder, if `npm start` generated one. */
export function readLocalApiKey(dataDir: string): string | undefined {
  try {
    const key = readFileSync(localApiKeyPath(dataDir), 'utf8').trim();
    return key.length > 0 ? key : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The data folder's key, generated and stored (mode 0600) when it has none yet. */
export function ensureLocalApiKey(dataDir: string): { key: string; created: boolean } {
  const existing = readLocalApiKey(dataDir);
  if (existing) return { key: existing, created: false };
  mkdirSync(dataDir, { recursive: true });
  const key = generateApiKey();
  const file = localApiKeyPath(dataDir);
  try {
    // `wx`: never replace a key another process wrote a moment ago.
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { key: readLocalApiKey(dataDir)!, created: false };
  }
  chmodSync(file, 0o600);
  return { key, created: true };
}

/**
 * The key a CLI uses: its flag, else NBA_API_KEY, else the one `npm start` stored in the data folder
 * (NBA_DATA_DIR or `.local-data`); undefined when there is none.
 */
export function defaultApiKey(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  return flag ?? env.NBA_API_KEY ?? readLocalApiKey(env.NBA_DATA_DIR ?? '.local-data');
}
