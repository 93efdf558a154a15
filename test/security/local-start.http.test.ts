/**
 * `npm start` is safe by default (README, "Run it locally"; local/api-key.ts), as a user meets it: the real
 * `local/start.ts` in its own process on a fresh data folder, over HTTP.
 * - Without NBA_API_KEY the first start generates a random key, prints it and stores it in `<data>/api-key`
 *   (owner-only); no fixed key (the `local-dev-key` of older versions) is accepted.
 * - A later start on the same folder reuses the stored key; the CLIs find it there without a flag.
 * - NBA_API_KEY overrides it, and the key an earlier start accepted is then revoked (in the audit trail).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as deadLetters } from '../../cli/dead-letters.ts';
import { PROJECT_ROOT } from '../../local/twin/assembly.ts';
import { captureStreams } from '../support/cli.ts';
import { apiClient } from '../support/http.ts';

interface Started {
  child: ChildProcess;
  url: string;
  key: string;
  origin: string;
  output: string;
}

const dataDir = mkdtempSync(join(tmpdir(), 'nba-start-'));
const running = new Set<ChildProcess>();

/** Runs `npm start`'s script on the test's data folder (any free port) and reads what it prints. */
function start(env: Record<string, string> = {}): Promise<Started> {
  const { NBA_API_KEY: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...inherited, PORT: '0', NBA_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('Press Ctrl-C to stop.')) return;
      const url = /API {6}(http:\/\/\S+)/.exec(output)?.[1];
      const key = /API key {2}(\S+) {2}\(([^)]*)\)/.exec(output);
      if (!url || !key) return reject(new Error(`unexpected output:\n${output}`));
      resolve({ child, url, key: key[1]!, origin: key[2]!, output });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.on('exit', (code) => reject(new Error(`npm start exited with ${code} before it was ready:\n${output}`)));
  });
}

function stop(s: Started): Promise<void> {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null) return resolve();
    s.child.on('exit', () => {
      running.delete(s.child);
      resolve();
    });
    s.child.kill('SIGINT');
  });
}

afterAll(() => {
  for (const c of running) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start without NBA_API_KEY', () => {
  let first: Started;
  beforeAll(async () => {
    first = await start();
  }, 120_000);

  it('generates a random key, prints it, and stores it in the data folder, readable by its owner only', () => {
    const file = join(dataDir, 'api-key');
    expect(first.origin).toBe(`generated now, stored in ${file}`);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.key);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.key).toMatch(/^nba_[A-Za-z0-9_-]{43}$/);
    expect(first.output).toContain(`export NBA_API_KEY=${first.key}`);
  });

  it('accepts that key and no well-known one', async () => {
    expect((await apiClient(first.url, first.key).call('GET', '/v1/decision-points/homepage')).status).toBe(200);
    expect((await apiClient(first.url, 'local-dev-key').call('GET', '/v1/decision-points')).status).toBe(401);
  });

  it('lets the CLIs find the key in the data folder, with no flag and no NBA_API_KEY', async () => {
    const saved = { ...process.env };
    delete process.env.NBA_API_KEY;
    process.env.NBA_DATA_DIR = dataDir;
    process.env.NBA_API_URL = first.url;
    try {
      const c = captureStreams();
      const code = await deadLetters(['list'], c.streams);
      expect({ code, err: c.err }).toEqual({ code: 0, err: '' });
      expect(c.out).toContain('0 dead letters');
    } finally {
      process.env = saved;
    }
  });

  it('reuses the stored key on the next start', async () => {
    await stop(first);
    const again = await start();
    try {
      expect(again.key).toBe(first.key);
      expect(again.origin).toBe(`stored in ${join(dataDir, 'api-key')}`);
      expect((await apiClient(again.url, first.key).call('GET', '/v1/decision-points')).status).toBe(200);
    } finally {
      await stop(again);
    }
  }, 120_000);

  it('takes NBA_API_KEY instead when set, and then refuses the key an earlier start accepted', async () => {
    const chosen = await start({ NBA_API_KEY: 'chosen-by-the-operator-0123456789' });
    try {
      expect(chosen.key).toBe('chosen-by-the-operator-0123456789');
      expect(chosen.origin).toBe('from NBA_API_KEY');
      expect((await apiClient(chosen.url, chosen.key).call('GET', '/v1/decision-points')).status).toBe(200);
      expect((await apiClient(chosen.url, first.key).call('GET', '/v1/decision-points')).status).toBe(401);
      // The stored key stays, for a start without NBA_API_KEY.
      expect(readFileSync(join(dataDir, 'api-key'), 'utf8').trim()).toBe(first.key);
      // Both key changes are in the audit trail, made by the start (the restart with the same key changed nothing).
      const audit = await apiClient(chosen.url, chosen.key).call('GET', '/v1/audit?action=key.revoke');
      expect(audit.body.entries.map((e: Record<string, unknown>) => [e.system, e.target, e.result])).toEqual([
        ['local-start', 'local-admin', 'ok'],
      ]);
      const created = await apiClient(chosen.url, chosen.key).call('GET', '/v1/audit?action=key.create');
      expect(created.body.entries).toHaveLength(2);
      expect(JSON.stringify([audit.body, created.body])).not.toContain(first.key);
    } finally {
      await stop(chosen);
    }
  }, 120_000);
});

describe('a start that conflicts with a running engine', () => {
  it('says which (the data folder or the port) and what to do, instead of a stack trace', async () => {
    const running = await start();
    const otherDir = mkdtempSync(join(tmpdir(), 'nba-start-other-'));
    try {
      const sameFolder = await start().then(
        () => 'started',
        (e: Error) => e.message,
      );
      expect(sameFolder).toContain(`npm start: another engine uses ${dataDir}`);
      expect(sameFolder).toContain('NBA_DATA_DIR=');
      expect(sameFolder).not.toMatch(/\n\s+at /);
      const port = new URL(running.url).port;
      const samePort = await start({ NBA_DATA_DIR: otherDir, PORT: port }).then(
        () => 'started',
        (e: Error) => e.message,
      );
      expect(samePort).toContain(`npm start: port ${port} is taken`);
      expect(samePort).toContain('PORT=3001 npm start');
      expect(samePort).not.toMatch(/\n\s+at /);
    } finally {
      await stop(running);
      rmSync(otherDir, { recursive: true, force: true });
    }
  }, 180_000);
});
