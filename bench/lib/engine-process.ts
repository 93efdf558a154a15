/**
 * The local engine in its own process, as a user runs it (`npm start` on a temporary data folder), for benchmarks
 * that drive it over HTTP from this process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface EngineProcess {
  url: string;
  apiKey: string;
  stop(): Promise<void>;
}

/** Starts `local/start.ts` on a free port and a fresh data folder; resolves once it prints that it is ready. */
export async function startEngineProcess(apiKey: string, env: Record<string, string> = {}): Promise<EngineProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'nba-bench-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      NBA_API_KEY: apiKey,
      NBA_DATA_DIR: dataDir,
      NBA_LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Press Ctrl-C')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`engine exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
