/**
 * The Node version is pinned (README, "Run it locally"): the `node` devDependency names one exact version and the
 * lock holds that version, so every `npm run …`, `npm test` and `npx …` runs on the same Node binary on every machine,
 * whatever the system Node is. The Lambda runtime's major is the same (test/cdk/stack.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../local/twin/assembly.ts';

const read = (file: string) => JSON.parse(readFileSync(join(PROJECT_ROOT, file), 'utf8'));
const pin: string = read('package.json').devDependencies.node;

describe('the Node toolchain', () => {
  it('is one exact version, not a range', () => {
    expect(pin).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('is the version the lock installs', () => {
    const lock = read('package-lock.json');
    expect(lock.packages[''].devDependencies.node).toBe(pin);
    expect(lock.packages['node_modules/node'].version).toBe(pin);
  });

  it('is the Node these tests run on', () => {
    expect(process.version).toBe(`v${pin}`);
  });
});
