/**
 * `npm run screenshots`: the console's main views as PNG files (docs/console-*.png, linked from the README), taken
 * in headless Chromium from a local stack in a temporary folder: the demo decision point, then a short simulated run
 * through the stack (the learning charts), at laptop and phone widths.
 *
 *   npm run screenshots [-- --out DIR] [--rounds N]
 *
 * Exit codes: 0 written; 2 bad arguments; 1 anything else.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseCliArgs, parseNumberFlag } from './lib/args.ts';
import { type CliStreams, failWith, processStreams, runIfEntry } from './lib/command.ts';

const USAGE = `usage: npm run screenshots [-- [--out DIR] [--rounds N] [--minutes M]]

  --out DIR     where to write console-desktop.png, console-phone.png and console-actions.png (default: docs)
  --rounds N    simulated rounds through the stack per minute (default 300)
  --minutes M   minutes of simulated traffic, so the per-minute charts have M points (default 4)`;

const VIEWS = [
  { file: 'console-desktop.png', width: 1280, height: 1000, anchor: '#learning-charts', fullPage: false },
  { file: 'console-actions.png', width: 1280, height: 900, anchor: '#actions-table', fullPage: false },
  { file: 'console-phone.png', width: 390, height: 844, anchor: '#learning-charts', fullPage: false },
] as const;

export async function runScreenshots(argv: readonly string[], streams: CliStreams = processStreams()): Promise<number> {
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      streams.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const v = parseCliArgs(argv, { out: { type: 'string' }, rounds: { type: 'string' }, minutes: { type: 'string' } });
    // The stack, the browser and the simulator load only once the arguments are good (`--help` stays quick).
    const [{ launchChromium }, { seedDemo }, { startLocalStack }, { PROJECT_ROOT }, { runGenWorld }, { runSimulate }] =
      await Promise.all([
        import('../local/browser.ts'),
        import('../local/demo.ts'),
        import('../local/stack.ts'),
        import('../local/twin/assembly.ts'),
        import('./gen-world.ts'),
        import('./simulate.ts'),
      ]);
    const out = resolve(v.out ?? join(PROJECT_ROOT, 'docs'));
    const rounds =
      v.rounds === undefined ? 300 : parseNumberFlag('rounds', v.rounds, { integer: true, above: 0, below: 100_001 });
    const minutes =
      v.minutes === undefined ? 4 : parseNumberFlag('minutes', v.minutes, { integer: true, above: 0, below: 61 });
    process.env.NBA_LOG_LEVEL ??= 'silent';
    const work = await mkdtemp(join(tmpdir(), 'nba-screens-'));
    const key = 'screenshot-admin-key';
    const stack = await startLocalStack({ apiKey: key, context: { modelRefreshMs: 200 } });
    const browser = await launchChromium();
    try {
      await seedDemo(stack.url, key);
      const quiet = { stdout: { write: () => true }, stderr: streams.stderr } as CliStreams;
      for (let m = 0; m < minutes; m++) {
        // A new world each minute (the simulator replays a file from its start), the same decision point.
        const world = join(work, `w${m}`);
        if (
          (await runGenWorld(['--seed', String(m + 1), '--rounds', String(rounds * 2), '--out', world], quiet)) !== 0
        ) {
          throw new Error('gen-world failed');
        }
        const simulate = [
          ...['--online', join(world, 'online.jsonl'), '--through-stack', stack.url, '--api-key', key],
          ...['--decision-point', 'sim', '--max-rounds', String(rounds)],
        ];
        if ((await runSimulate(simulate, quiet)) !== 0) throw new Error('simulate --through-stack failed');
        streams.stderr.write(`screenshots: minute ${m + 1} of ${minutes} simulated\n`);
        if (m < minutes - 1) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 500));
      }
      await mkdir(out, { recursive: true });
      for (const view of VIEWS) {
        const page = await browser.newPage({ viewport: { width: view.width, height: view.height } });
        await page.goto(`${stack.url}/console/?dp=sim#key=${key}`);
        await page.locator(view.anchor).waitFor();
        await page.locator('#learning-charts canvas').first().waitFor();
        if (view.anchor === '#actions-table') {
          await page.evaluate("document.getElementById('actions-panel').previousElementSibling.scrollIntoView()");
        }
        await page.screenshot({ path: join(out, view.file), fullPage: view.fullPage });
        await page.close();
        streams.stdout.write(`wrote ${join(out, view.file)}\n`);
      }
      return 0;
    } finally {
      await browser.close();
      await stack.stop();
      await rm(work, { recursive: true, force: true });
    }
  } catch (error) {
    return failWith('screenshots', USAGE, error, streams, () => false);
  }
}

await runIfEntry(import.meta.url, (argv) => runScreenshots(argv));
