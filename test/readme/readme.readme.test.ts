/**
 * The README, run as a user would run it. The test reads README.md's code blocks and inline commands (support/readme.ts),
 * starts `npm start` on a port and data folder of its own (`PORT`, `NBA_DATA_DIR`, the variables the README names),
 * then runs every `curl` example as printed with the real `curl`, and every `npm run` command the README shows on real
 * data (the Open Bandit Dataset sample in ../shared/data/obd-men, a generated world), or skips it with the reason
 * written below. Only the host and port of `http://127.0.0.1:3000` are substituted, and placeholders the README leaves
 * to the reader (FILE, DIR, VERSION, …) are filled with real values. Every answer, and every JSON body the README
 * prints, is validated against docs/openapi.json.
 *
 * Along the way it follows the README's flows: traffic → lake → `npm run retrain` → evaluations → rollback over HTTP,
 * with serving following; an OBD import → retrain → decisions from the retrained model.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, apiClient, waitFor } from '../support/http.ts';
import { requestProblem, successBodyProblem } from '../support/openapi.ts';
import { blockAfter, blockLines, jsonBlocks, npmRunCommands, readmeText, shellCommands } from '../support/readme.ts';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const OBD = resolve(ROOT, '../shared/data/obd-men');
const haveObd = existsSync(join(OBD, 'bts/men.csv'));
const README_URL = 'http://127.0.0.1:3000';
/** The key `npm start` generated and stored in the data folder, exported as the README says (read once it started). */
let KEY: string | undefined;

let port = 0;
let url = '';
let dataDir = '';
let work = '';
let engine: ChildProcess | undefined;
let engineLog = '';
let api: Api;

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });
}

/**
 * The variables the README names for `npm start` (PORT, NBA_DATA_DIR); the tools are run with the same. The API key
 * is left to its documented default (generated on the first start into the data folder), then exported as
 * NBA_API_KEY, as the README's Quick start does (`export NBA_API_KEY=$(cat .local-data/api-key)`).
 */
const env = () => {
  const { NBA_FORBID_EMULATORS: _, NBA_API_KEY: __, ...rest } = process.env;
  return { ...rest, PORT: String(port), NBA_DATA_DIR: dataDir, ...(KEY !== undefined && { NBA_API_KEY: KEY }) };
};

/** Runs a command line in bash from the repository root, as a user would type it. */
function sh(command: string, timeoutMs = 180_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((ok) => {
    execFile(
      'bash',
      ['-c', command],
      { cwd: ROOT, env: env(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, out, err) => ok({ code: error ? Number(error.code ?? 1) || 1 : 0, out, err }),
    );
  });
}
const asPrinted = (command: string) => command.replaceAll(README_URL, url);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'nba-readme-'));
  dataDir = join(work, 'data');
  port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // `npm start` in its own process group, so that stopping it stops tsx and node under npm too.
  engine = spawn('npm', ['start'], { cwd: ROOT, env: env(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  engine.stdout!.on('data', (c) => {
    engineLog += c;
  });
  engine.stderr!.on('data', (c) => {
    engineLog += c;
  });
  let exited = false;
  engine.once('exit', () => {
    exited = true;
  });
  await waitFor(async () => exited || engineLog.includes('NBA engine running locally'), 120_000, 200);
  if (exited) throw new Error(`npm start did not come up:\n${engineLog}`);
  KEY = readFileSync(join(dataDir, 'api-key'), 'utf8').trim();
  api = apiClient(url, KEY);
}, 150_000);

afterAll(async () => {
  if (engine?.pid && engine.exitCode === null) {
    const exited = new Promise((r) => engine!.once('exit', r));
    process.kill(-engine.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  }
  if (work) rmSync(work, { recursive: true, force: true });
}, 30_000);

describe('README: npm start prints the console', () => {
  it('prints a console address that serves the page, with a #key that the API accepts', async () => {
    const m = /console {2}(http:\/\/\S+\/console\/)#key=(\S+)/.exec(engineLog);
    expect(m, engineLog).not.toBeNull();
    const [, address, key] = m!;
    expect(address).toBe(`${url}/console/`);
    const page = await fetch(address!);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('Next-best-action console');
    // The key in the fragment is the admin key: what the page sends as x-api-key is accepted.
    const list = await fetch(`${url}/v1/decision-points`, { headers: { 'x-api-key': decodeURIComponent(key!) } });
    expect(list.status).toBe(200);
    expect(JSON.stringify(await list.json())).toContain('homepage');
  });
});

/** "Bring your own history" is one flow (its files, its decision point): run whole, in order, by its own test below. */
const HISTORY_BLOCK = blockAfter('### Bring your own history');
const [historyFrom, historyTo] = blockLines(HISTORY_BLOCK);
const inHistoryBlock = (line: number) => line >= historyFrom && line <= historyTo;

describe('README: the API, with examples', () => {
  const curls = shellCommands().filter((c) => c.command.startsWith('curl ') && !inHistoryBlock(c.line));
  const printed = jsonBlocks();

  it('prints curl examples for decisions, events, the model and the catalog', () => {
    const paths = curls.map((c) => /curl .*?(?:-X (\w+) )?http:\/\/127\.0\.0\.1:3000(\S+)/.exec(c.command)?.[2]);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/v1/decisions',
        '/v1/decisions:batch',
        '/v1/events',
        '/v1/decision-points/homepage/model',
      ]),
    );
  });

  it('every curl example answers, as printed, with a body docs/openapi.json documents as a success', async () => {
    const answers: Record<string, unknown> = {};
    for (const { command, line } of curls) {
      const run = await sh(asPrinted(command), 30_000);
      expect(run.code, `README line ${line}: ${command}\n${run.err}`).toBe(0);
      const method = /-X (\w+)/.exec(command)?.[1] ?? 'GET';
      const path = new URL(/http:\/\/\S+/.exec(command)![0]).pathname;
      let body: unknown;
      try {
        body = JSON.parse(run.out);
      } catch {
        throw new Error(`README line ${line}: not JSON: ${run.out.slice(0, 300)}`);
      }
      expect(successBodyProblem(method, path, body), `README line ${line}: ${command}`).toBeUndefined();
      answers[`${method} ${path}`] = body;
    }
    // The bodies printed after the decision and the event examples are what those calls answer (ids and numbers vary).
    const decision = answers['POST /v1/decisions'] as Record<string, unknown>;
    const batch = answers['POST /v1/decisions:batch'] as { results: { status: string; chosen: string[] }[] };
    const [printedDecision, printedBatch, printedEvents] = printed;
    expect(Object.keys(decision).sort()).toEqual(Object.keys(printedDecision!.value as object).sort());
    expect(Object.keys(batch).sort()).toEqual(Object.keys(printedBatch!.value as object).sort());
    expect(batch.results.map((r) => r.status)).toEqual(['decided', 'decided']);
    expect(answers['POST /v1/events']).toEqual(printedEvents!.value);
    // "events without a decisionId are joined to the user's latest decision": the click on u1's decision is learned.
    // Impressions: the single decision's and those of the batch's two users (u2, u3: the click is u1's).
    const shown = [decision.chosen as string[], ...batch.results.map((r) => r.chosen)].flat();
    await waitFor(async () => {
      const model = (await api.call('GET', '/v1/decision-points/homepage/model')).body;
      const sum = (f: 'rewardEvents' | 'impressions') =>
        model.actions.reduce((s: number, a: Record<string, number>) => s + a[f]!, 0);
      return sum('rewardEvents') === 1 && sum('impressions') === shown.length;
    });
    const model = (await api.call('GET', '/v1/decision-points/homepage/model')).body;
    const chosen = (decision.chosen as string[])[0];
    expect(model.actions.find((a: { actionId: string }) => a.actionId === chosen)).toMatchObject({
      impressions: shown.filter((a) => a === chosen).length,
      rewardEvents: 1,
      rewardSum: 1,
    });
  });

  it('every JSON body the README prints is valid under docs/openapi.json', () => {
    const [decision, batch, events, objectives] = printed;
    expect(successBodyProblem('POST', '/v1/decisions', decision!.value)).toBeUndefined();
    expect(successBodyProblem('POST', '/v1/decisions:batch', batch!.value)).toBeUndefined();
    expect(successBodyProblem('POST', '/v1/events', events!.value)).toBeUndefined();
    expect(requestProblem('PUT', '/v1/decision-points/{decisionPoint}', objectives!.value)).toBeUndefined();
    // The stage event of the objectives section, as an event of a request.
    const stage = /`(\{"type":"stage"[^`]+\})`/.exec(readmeText())![1]!;
    const event = { eventId: 's1', userId: 'u1', ...JSON.parse(stage) };
    expect(requestProblem('POST', '/v1/events', { events: [event] })).toBeUndefined();
  });
});

/**
 * Every `npm run` command of the README: how this test runs it (placeholders filled; runtimes bounded by the flags
 * the README shows) or why it does not. A command added to the README without an entry here fails the test.
 */
type Plan = { run: () => string; check?: (out: string) => void | Promise<void> } | { skip: string };
const checkpoint = () => {
  const [[shard, seq]] = Object.entries(JSON.parse(readFileSync(join(dataDir, 'checkpoints.json'), 'utf8'))) as [
    [string, string],
  ];
  return { shard, seq };
};
const plans: Record<string, Plan> = {
  'npm run test:unit': { skip: 'this test runs inside `npm test`; running the suite from itself would recurse' },
  'npm run test:http': { skip: 'this test runs inside `npm test`; running the suite from itself would recurse' },
  'npm run test:readme': { skip: 'this is that tier; running it from itself would recurse' },
  'npm run bench': { skip: 'the benchmarks take minutes and rewrite BENCHMARKS.md; bench/ has its own checks' },
  'npm run dead-letters': { skip: 'names the tool; its commands (list, replay, replay-range) are run below' },
  'npm run -s': { skip: 'names the flag; the command that uses it is run below' },
  'npm run …': { skip: 'stands for any command (the Node pin applies to all)' },
  'npm run keys': { skip: 'names the tool; its commands are run below' },
  'npm run simulate -- --through-stack': { skip: 'names the mode; the simulate command below runs through the stack' },
  'npm run keys -- create --name ops --scopes admin,decide,feedback --table <StateTableName>   --audit-table <AuditTableName> --region <region>':
    {
      skip: 'needs a deployed stack and AWS credentials; the same command on local data is run below',
    },
  'npm run keys -- create|list|revoke …': {
    // On local data the tool opens the emulators' files itself, so it needs an engine that is not running there
    // (its usage says so): a data folder of its own.
    run: () =>
      `NBA_DATA_DIR=${join(work, 'keys-data')} npm run keys -- create --name ops --scopes admin,decide,feedback`,
    check: (out) => expect(out).toMatch(/nba_/),
  },
  'npm run dead-letters -- list': { run: () => 'npm run dead-letters -- list' },
  'npm run dead-letters -- list|replay …': { run: () => 'npm run dead-letters -- replay' },
  'npm run dead-letters -- replay-range --shard … --from … --to …': {
    run: () => {
      const { shard, seq } = checkpoint();
      return `npm run dead-letters -- replay-range --shard ${shard} --from ${seq} --to ${seq}`;
    },
  },
  'npm run openapi': {
    run: () => 'npm run openapi',
    check: () => {
      // The committed document is what the generator writes: regenerating changes nothing.
      expect(readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8')).toBe(openApiBefore);
    },
  },
  'npm run screenshots': {
    skip: 'takes minutes of simulated traffic on purpose (per-minute charts); test/console runs the same pages in Chromium',
  },
  'npm run iam-report': {
    skip: 'runs the whole http tier itself (minutes) to collect the calls; test/twin covers the ledger it reports',
  },
  'npm run bench:fanout -- --containers 100 --seconds 10': {
    skip: 'a benchmark (it starts its own stack and runs for seconds); `npm run bench -- --only fanout` runs it',
  },
  'npm run capacity -- --decisions-per-second 100000 --events-per-second 20000 --actions 100 --decision-points 1': {
    run: () =>
      'npm run capacity -- --decisions-per-second 100000 --events-per-second 20000 --actions 100 --decision-points 1',
    check: (out) =>
      expect(out).toMatch(/breaks first as the load grows \(hard limit\)[\s\S]*cost per million decisions/),
  },
  'npm run gen-world -- --seed 1 --rounds 2000 --out DIR': {
    run: () => `npm run gen-world -- --seed 1 --rounds 2000 --out ${join(work, 'world')}`,
    check: () => {
      for (const f of ['config.json', 'history.jsonl', 'online.jsonl'])
        expect(existsSync(join(work, 'world', f))).toBe(true);
    },
  },
  'npm run simulate -- --online FILE …': {
    run: () =>
      `npm run simulate -- --online ${join(work, 'world/online.jsonl')} --through-stack ${url} --api-key ${KEY} --max-rounds 100`,
    check: (out) => expect(out).toMatch(/100/),
  },
  'npm run simulate -- --online rounds.jsonl --json': {
    // The generated world's rounds in a folder of their own (no config.json beside them): dimensions from the data.
    run: () =>
      `mkdir -p ${join(work, 'own')} && cp ${join(work, 'world/online.jsonl')} ${join(work, 'own/rounds.jsonl')} && ` +
      `npm run -s simulate -- --online ${join(work, 'own/rounds.jsonl')} --json 2>&1`,
    check: (out) => {
      expect(out).toContain('inferred contextDim 10 from dense contexts of 9 features');
      expect(out).toContain('"events" are ignored');
      expect(out).toMatch(/"rounds":2000/);
    },
  },
  'npm run import -- --format jsonl FILE': {
    run: () => `npm run import -- --format jsonl ${join(work, 'world/history.jsonl')} --decision-point world`,
    check: (out) => expect(out).toMatch(/imported 10000 decisions/),
  },
  'npm run import -- --format jsonl|obd FILE': {
    run: () => 'npm run import -- --format obd ../shared/data/obd-men/random/men.csv --decision-point obd',
    check: (out) => expect(out).toMatch(/imported \d+ decisions/),
  },
  'npm run retrain -- --decision-point homepage': { run: () => 'npm run retrain -- --decision-point homepage' },
  'npm run gen-world -- --seed 1 --rounds 1000 --out world': {
    skip: 'run with its block ("Bring your own history") below',
  },
  'npm run import -- --format jsonl world/history.jsonl --decision-point world --create-actions': {
    skip: 'run with its block ("Bring your own history") below',
  },
  'npm run retrain -- --decision-point world': { skip: 'run with its block ("Bring your own history") below' },
  'npm run retrain -- --decision-point world --holdout-fraction 0.2': {
    skip: 'test/e2e/bring-your-history.http.test.ts runs this flow on the local stack: a one-day imported history retrained with a held-out share',
  },
  'npm run -s evaluate -- --log FILE --target uniform --json | jq .': {
    // jq may not be installed: any JSON parser shows the same thing, that the output is JSON and nothing else.
    run: () =>
      `npm run -s evaluate -- --log ../shared/data/obd-men/random/men.csv --target uniform --json | node -e "JSON.parse(require('node:fs').readFileSync(0, 'utf8')); console.log('pure JSON')"`,
    check: (out) => expect(out.trim()).toBe('pure JSON'),
  },
  'npm run evaluate -- --log ../shared/data/obd-men/bts/men.csv --target uniform': {
    run: () => 'npm run evaluate -- --log ../shared/data/obd-men/bts/men.csv --target uniform',
    check: (out) => expect(out).toMatch(/DR \(cross-fitted\)/),
  },
  'npm run evaluate -- --log FILE --target uniform --json': {
    run: () => 'npm run evaluate -- --log ../shared/data/obd-men/random/men.csv --target uniform --json',
    check: (out) => expect(JSON.parse(out.trim().split('\n').at(-1)!)).toMatchObject({ target: 'uniform', n: 10000 }),
  },
  'npm run evaluate -- --target model:VERSION': {
    run: () =>
      'npm run evaluate -- --log ../shared/data/obd-men/random/men.csv --target model:active --decision-point obd',
    check: (out) => expect(out).toMatch(/DR \(cross-fitted\)/),
  },
  'npm run decide-batch -- --decision-point homepage --in users.jsonl --out decisions.jsonl': {
    // As printed, in a folder of its own (the README's `printf` line writes users.jsonl there).
    run: () =>
      `cd ${work} && printf '%s\\n' '{"userId":"u7","context":{"segment":"new"}}' '{"userId":"u8","context":{"segment":"returning"},"slots":2}' > users.jsonl && npm --prefix ${ROOT} run decide-batch -- --decision-point homepage --in ${work}/users.jsonl --out ${work}/decisions.jsonl`,
    check: (out) => {
      expect(out).toMatch(/2 lines in 1 chunks, 2 decided/);
      const lines = readFileSync(join(work, 'decisions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.userId, l.chosen.length])).toEqual([
        ['u7', 1],
        ['u8', 2],
      ]);
      expect(readFileSync(join(work, 'decisions.errors.jsonl'), 'utf8')).toBe('');
    },
  },
  'npm run replay-obd': {
    run: () => 'npm run replay-obd',
    check: (out) => expect(out).toMatch(/engine/i),
  },
};
let openApiBefore = '';

describe('README: every npm run command', () => {
  it('has a plan for each command the README shows', () => {
    expect(npmRunCommands().sort()).toEqual(Object.keys(plans).sort());
  });

  it.skipIf(!haveObd)(
    'runs each one as printed on real data and it succeeds',
    async () => {
      openApiBefore = readFileSync(join(ROOT, 'docs/openapi.json'), 'utf8');
      const order = npmRunCommands();
      // Generation before its consumers; retrain after the traffic above; the OBD flow in its order.
      const first = [
        'npm run gen-world -- --seed 1 --rounds 2000 --out DIR',
        'npm run import -- --format jsonl|obd FILE',
      ];
      const ordered = [...first, ...order.filter((c) => !first.includes(c))];
      const failures: string[] = [];
      for (const command of ordered) {
        const plan = plans[command]!;
        if ('skip' in plan) continue;
        if (command === 'npm run evaluate -- --target model:VERSION') await obdRetrainAndDecide();
        const line = plan.run();
        const started = Date.now();
        const r = await sh(line);
        const took = Date.now() - started;
        if (r.code !== 0) {
          failures.push(`${line} exited ${r.code} after ${took} ms:\n${r.err.slice(-800)}${r.out.slice(-400)}`);
          continue;
        }
        try {
          await plan.check?.(r.out);
        } catch (e) {
          failures.push(`${line}: ${(e as Error).message}`);
        }
        console.log(`readme: ${line} (${took} ms)`);
      }
      expect(failures).toEqual([]);
    },
    600_000,
  );
});

/** The OBD flow: the imported history becomes the serving model once its actions are in the catalog and it is retrained. */
async function obdRetrainAndDecide() {
  const items = readFileSync(join(OBD, 'random/item_context.csv'), 'utf8').trim().split('\n').slice(1);
  expect((await api.call('PUT', '/v1/decision-points/obd', {})).status).toBe(201);
  const actions = items.map((row) => ({ actionId: String(row.split(',')[1]) }));
  expect((await api.call('POST', '/v1/decision-points/obd/actions:batch', { actions })).status).toBe(200);
  // Two promotions (forced: the sample's days are all in the past, so the gate has no recent day to judge), so
  // there is a model to roll back to.
  const versions: string[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await sh('npm run retrain -- --decision-point obd --force');
    expect(r.code, r.err).toBe(0);
    const listed = (await api.call('GET', '/v1/decision-points/obd/evaluations')).body;
    expect(listed.evaluations).toHaveLength(i + 1);
    expect(listed.evaluations[0].outcome, JSON.stringify(listed.evaluations[0])).toBe('promoted');
    expect(listed.activeVersion).toBe(listed.evaluations[0].version);
    versions.push(listed.activeVersion);
  }
  await waitFor(async () =>
    String((await api.call('GET', '/v1/decision-points/obd/model')).body.modelVersion).startsWith(`${versions[1]}+`),
  );
  // "`POST /v1/decision-points/{dp}/model:rollback` restores the previous one", and serving follows.
  const rolled = await api.call('POST', '/v1/decision-points/obd/model:rollback', {});
  expect(rolled.status, JSON.stringify(rolled.body)).toBe(200);
  expect(rolled.body).toMatchObject({ version: versions[0], rolledBack: versions[1] });
  await waitFor(async () =>
    String((await api.call('GET', '/v1/decision-points/obd/model')).body.modelVersion).startsWith(`${versions[0]}+`),
  );
  const model = (await api.call('GET', '/v1/decision-points/obd/model')).body;
  // The retrained model learned the imported clicks.
  expect(model.actions.reduce((s: number, a: { rewardSum: number }) => s + a.rewardSum, 0)).toBeGreaterThan(0);
  const d = await api.call('POST', '/v1/decisions', { decisionPoint: 'obd', userId: 'obd-u', context: {} });
  expect(d.status).toBe(200);
  expect(actions.map((a) => a.actionId)).toContain(d.body.chosen[0]);
}

describe('README: bring your own history', () => {
  it('runs as printed, command after command, and ends with a decision shaped like the history', async () => {
    // The block writes `world/` where it runs: the repository root, as a user would from a fresh clone.
    const world = join(ROOT, 'world');
    expect(existsSync(world), 'a world/ folder is already in the checkout').toBe(false);
    try {
      const commands = shellCommands().filter((c) => inHistoryBlock(c.line));
      expect(commands.map((c) => c.command.split(' ').slice(0, 3).join(' '))).toEqual([
        'npm run gen-world',
        'curl -s -X',
        'npm run import',
        'npm run retrain',
        'curl -s -X',
      ]);
      let last = '';
      for (const { command, line } of commands) {
        const r = await sh(asPrinted(command), 300_000);
        expect(r.code, `README line ${line}: ${command}\n${r.err.slice(-800)}`).toBe(0);
        last = r.out;
      }
      const decision = JSON.parse(last) as { chosen: string[] };
      expect(successBodyProblem('POST', '/v1/decisions', decision)).toBeUndefined();
      expect(decision.chosen[0]).toMatch(/^a\d+$/);
    } finally {
      rmSync(world, { recursive: true, force: true });
    }
  }, 600_000);
});
