/**
 * A folder as the BlobStore port: keys are relative paths under `root`, so the local lake is browsable with `ls` and
 * `zcat` and has exactly the layout of the S3 bucket. Writes go to a temporary file renamed into place, which is
 * atomic on one file system: a reader (or a crash) never sees half an object.
 */
import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { BlobEntry, BlobStore } from '../../app/retrain/ports.ts';

export class FsBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  private path(key: string): string {
    if (key.split('/').some((p) => p === '..' || p === '')) throw new Error(`invalid object key ${key}`);
    return join(this.root, ...key.split('/'));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const path = this.path(key);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${randomUUID()}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, path);
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    // Walk only the deepest folder the prefix names, then filter by the full prefix.
    const cut = prefix.lastIndexOf('/');
    const start = cut < 0 ? this.root : join(this.root, ...prefix.slice(0, cut).split('/').filter(Boolean));
    const out: BlobEntry[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.endsWith('.tmp')) {
          const key = relative(this.root, full).split(sep).join('/');
          if (key.startsWith(prefix)) out.push({ key, size: (await stat(full)).size });
        }
      }
    };
    await walk(start);
    return out.sort((p, q) => (p.key < q.key ? -1 : p.key > q.key ? 1 : 0));
  }
}
