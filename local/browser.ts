/**
 * Headless Chromium for the console's browser tests and screenshots: Debian's `chromium` package driven by
 * playwright-core (which downloads no browser of its own). `ensureChromium()` finds it, or installs it with apt-get
 * when it may (root on a Debian-like machine), so that `npm test` and `.ci/run` work on a clean machine; otherwise it
 * says what to install.
 *
 * `npx tsx local/browser.ts` installs it ahead of time (what `.ci/run` does).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags that keep Chromium off the network it is not allowed to reach here, and out of a sandbox it cannot use as root. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function ensureChromium(log: (line: string) => void = () => {}): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/usr/bin/apt-get')) {
    throw new Error(
      `the console's browser tests need Debian's chromium at ${CHROMIUM}: install it with ` +
        '`sudo apt-get install -y chromium` (playwright-core drives it; it downloads no browser itself)',
    );
  }
  log('installing Debian chromium for the browser tests (apt-get, about a minute)…');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} is not there`);
  return CHROMIUM;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: ensureChromium(), headless: true, args: FLAGS });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(`chromium: ${ensureChromium(console.log)}`);
}
