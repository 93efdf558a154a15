/**
 * The console (issue 15): decision points, their settings and actions, the learning series and the offline runs, read
 * and changed through the public API only (./api.ts). No framework: the DOM is built with `el`, which sets text, never
 * HTML, so nothing the API returns is interpreted as markup.
 */
import { ApiError, apiBase, call, enc, forgetKey, storedKey, storeKey, takeKeyFromFragment } from './api.ts';
import { lineChart } from './charts.ts';

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;
type Child = Node | string | null | undefined | false;

function el(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') node.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) node.setAttribute(k, '');
    else if (v !== false) node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : Number(v.toFixed(digits)).toLocaleString('en');
const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');

// ── messages ────────────────────────────────────────────────────────────────────────────────────────────────────

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  const box = $('message');
  box.textContent = text;
  box.className = kind === 'info' ? 'info' : '';
  box.setAttribute('role', kind === 'info' ? 'status' : 'alert');
  box.hidden = false;
}
const clearMessage = () => {
  $('message').hidden = true;
};

/** A failed call: a refused key sends the reader back to the form; anything else is said where it happened. */
function failed(err: unknown, where?: HTMLElement): void {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError && err.refused) {
    forgetKey();
    showSignIn();
    showMessage(message);
    return;
  }
  if (where) where.replaceChildren(el('p', { class: 'error-text', role: 'alert' }, message));
  else showMessage(message);
}

function confirmAction(text: string, okLabel: string): Promise<boolean> {
  const dialog = $<HTMLDialogElement>('confirm');
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }),
  );
}

// ── sign in ─────────────────────────────────────────────────────────────────────────────────────────────────────

function showSignIn(): void {
  $('app').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $<HTMLInputElement>('key').focus();
}

async function open(): Promise<void> {
  $('where').textContent = `API: ${apiBase().href}`;
  if (!storedKey()) {
    showSignIn();
    return;
  }
  try {
    await loadDecisionPoints();
  } catch (err) {
    failed(err);
    if (!(err instanceof ApiError && err.refused)) showSignIn();
    return;
  }
  clearMessage();
  $('sign-in').hidden = true;
  $('app').hidden = false;
  $('sign-out').hidden = false;
}

// ── decision points ─────────────────────────────────────────────────────────────────────────────────────────────

interface DecisionPointView {
  decisionPoint: string;
  settings: Record<string, unknown> & { description?: string };
  version: number;
  updatedAt: string;
}

let selected: string | undefined;

async function loadDecisionPoints(): Promise<void> {
  const { decisionPoints } = await call<{ decisionPoints: DecisionPointView[] }>('GET', '/v1/decision-points');
  const list = $('decision-points');
  list.replaceChildren(
    ...decisionPoints.map((d) =>
      el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            class: 'secondary',
            'data-dp': d.decisionPoint,
            'aria-current': String(d.decisionPoint === selected),
            onclick: () => void select(d.decisionPoint),
          },
          d.decisionPoint,
        ),
      ),
    ),
  );
  if (decisionPoints.length === 0) {
    list.replaceChildren(el('li', {}, 'No decision point yet: create one with PUT /v1/decision-points/{name}.'));
    $('detail').replaceChildren();
    return;
  }
  const initial = selected ?? new URLSearchParams(location.search).get('dp') ?? decisionPoints[0]!.decisionPoint;
  await select(decisionPoints.some((d) => d.decisionPoint === initial) ? initial : decisionPoints[0]!.decisionPoint);
}

async function select(dp: string): Promise<void> {
  selected = dp;
  for (const b of document.querySelectorAll<HTMLButtonElement>('#decision-points button')) {
    b.setAttribute('aria-current', String(b.dataset.dp === dp));
  }
  const sections = {
    settings: el('div', { class: 'panel', id: 'settings-panel' }, 'Loading settings…'),
    actions: el('div', { class: 'panel', id: 'actions-panel' }, 'Loading actions…'),
    learning: el('div', { class: 'panel', id: 'learning-panel' }, 'Loading the learning series…'),
    runs: el('div', { class: 'panel', id: 'runs-panel' }, 'Loading offline runs…'),
  };
  $('detail').replaceChildren(
    el('h2', { id: 'dp-title' }, `Decision point: ${dp}`),
    el('h3', {}, 'Learning over time'),
    sections.learning,
    el('h3', {}, 'Actions'),
    sections.actions,
    el('h3', {}, 'Offline runs'),
    sections.runs,
    el('h3', {}, 'Settings'),
    sections.settings,
  );
  await Promise.all([
    renderSettings(dp, sections.settings).catch((e) => failed(e, sections.settings)),
    renderActions(dp, sections.actions).catch((e) => failed(e, sections.actions)),
    renderLearning(dp, sections.learning).catch((e) => failed(e, sections.learning)),
    renderRuns(dp, sections.runs).catch((e) => failed(e, sections.runs)),
  ]);
}

// ── settings ────────────────────────────────────────────────────────────────────────────────────────────────────

async function renderSettings(dp: string, box: HTMLElement): Promise<void> {
  const view = await call<DecisionPointView>('GET', `/v1/decision-points/${enc(dp)}`);
  const text = el('textarea', { id: 'settings-json', 'aria-describedby': 'settings-help settings-error' });
  (text as HTMLTextAreaElement).value = JSON.stringify(view.settings, null, 2);
  const error = el('p', { id: 'settings-error', class: 'error-text', 'aria-live': 'polite' });
  const save = async (e: Event) => {
    e.preventDefault();
    error.textContent = '';
    let body: unknown;
    try {
      body = JSON.parse((text as HTMLTextAreaElement).value);
    } catch (err) {
      error.textContent = `Not valid JSON: ${(err as Error).message}`;
      return;
    }
    try {
      await call('PUT', `/v1/decision-points/${enc(dp)}`, body);
      showMessage(`Settings of ${dp} saved.`, 'info');
      await renderSettings(dp, box);
    } catch (err) {
      if (err instanceof ApiError && !err.refused) error.textContent = err.message;
      else failed(err);
    }
  };
  box.replaceChildren(
    el(
      'form',
      { onsubmit: save },
      el('label', { for: 'settings-json' }, `Settings (version ${view.version}, updated ${when(view.updatedAt)})`),
      el('p', { id: 'settings-help', class: 'muted' }, 'Every setting is optional; the API checks what you save.'),
      text,
      error,
      el('div', { class: 'row' }, el('button', { type: 'submit' }, 'Save settings')),
    ),
  );
}

// ── actions ─────────────────────────────────────────────────────────────────────────────────────────────────────

interface ActionView {
  actionId: string;
  status: string;
  features: Record<string, unknown>;
  startsAt?: string;
  endsAt?: string;
}
interface ObjectiveEstimate {
  mean: number | null;
  sd: number | null;
  impressions: number;
  rewardEvents: number;
  rewardSum: number;
  lastLearnedAt: string | null;
}
interface ActionSummary extends ObjectiveEstimate {
  actionId: string;
  objectives: Record<string, ObjectiveEstimate>;
}

async function renderActions(dp: string, box: HTMLElement): Promise<void> {
  const [{ actions }, model] = await Promise.all([
    call<{ actions: ActionView[] }>('GET', `/v1/decision-points/${enc(dp)}/actions`),
    call<{
      modelVersion: string;
      builtAt: string;
      actions: ActionSummary[];
      recent: { since: string; total: number; byAction: Record<string, number> };
    }>('GET', `/v1/decision-points/${enc(dp)}/model`),
  ]);
  const learned = new Map(model.actions.map((a) => [a.actionId, a]));
  const objectives = [...new Set(model.actions.flatMap((a) => Object.keys(a.objectives)))];
  const recent = model.recent;
  const headers = [
    'Action',
    'Status',
    ...objectives.map((o) => `Estimate ± sd (${o})`),
    `Share of traffic since ${when(recent.since).slice(0, 10)}`,
    'Impressions',
    'Reward events',
    'Reward sum',
    'Last learned',
    'Change',
  ];
  const table = el(
    'table',
    { id: 'actions-table' },
    el('caption', {}, `Actions of ${dp}: model ${model.modelVersion}, built ${when(model.builtAt)}`),
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    el(
      'tbody',
      {},
      ...actions.map((a) => {
        const s = learned.get(a.actionId);
        const d = s?.objectives.default;
        const retired = a.status === 'retired';
        return el(
          'tr',
          { 'data-action': a.actionId },
          el('th', { scope: 'row' }, a.actionId),
          el(
            'td',
            { class: `status-${a.status}` },
            a.status,
            a.startsAt && a.status === 'scheduled' ? ` from ${when(a.startsAt)}` : '',
            a.endsAt && a.status !== 'retired' ? ` until ${when(a.endsAt)}` : '',
          ),
          ...objectives.map((o) => {
            const e = s?.objectives[o];
            return el('td', { class: 'num' }, e && e.mean !== null ? `${fmt(e.mean)} ± ${fmt(e.sd)}` : '–');
          }),
          el(
            'td',
            { class: 'num share' },
            recent.total > 0 ? `${fmt((100 * (recent.byAction[a.actionId] ?? 0)) / recent.total, 1)}%` : '–',
          ),
          el('td', { class: 'num' }, fmt(d?.impressions ?? 0, 0)),
          el('td', { class: 'num' }, fmt(d?.rewardEvents ?? 0, 0)),
          el('td', { class: 'num' }, fmt(d?.rewardSum ?? 0)),
          el('td', {}, when(d?.lastLearnedAt)),
          el(
            'td',
            {},
            el(
              'div',
              { class: 'row' },
              el(
                'button',
                {
                  type: 'button',
                  class: 'secondary',
                  onclick: () => fillActionForm(a),
                  'aria-label': `Edit ${a.actionId}`,
                },
                'Edit',
              ),
              retired
                ? null
                : el(
                    'button',
                    {
                      type: 'button',
                      class: 'danger',
                      'aria-label': `Retire ${a.actionId}`,
                      onclick: () => void retire(dp, a.actionId, box),
                    },
                    'Retire',
                  ),
            ),
          ),
        );
      }),
    ),
  );
  box.replaceChildren(actions.length === 0 ? el('p', {}, 'No action yet: add one below.') : table, actionForm(dp, box));
}

async function retire(dp: string, actionId: string, box: HTMLElement): Promise<void> {
  const ok = await confirmAction(
    `Retire ${actionId} from ${dp}? It stops being served at the next model refresh; what it learned is kept.`,
    `Retire ${actionId}`,
  );
  if (!ok) return;
  try {
    await call('DELETE', `/v1/decision-points/${enc(dp)}/actions/${enc(actionId)}`);
    showMessage(`${actionId} retired: it is no longer served.`, 'info');
    await renderActions(dp, box);
  } catch (err) {
    failed(err);
  }
}

/** datetime-local (the reader's time zone) ↔ ISO instant. */
const toLocalInput = (iso: string | undefined) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (v: string) => (v ? new Date(v).toISOString() : undefined);

function fillActionForm(a: ActionView): void {
  ($('action-id') as HTMLInputElement).value = a.actionId;
  ($('action-features') as HTMLTextAreaElement).value = JSON.stringify(a.features, null, 2);
  ($('action-starts') as HTMLInputElement).value = toLocalInput(a.startsAt);
  ($('action-ends') as HTMLInputElement).value = toLocalInput(a.endsAt);
  $('action-id').focus();
}

function actionForm(dp: string, box: HTMLElement): HTMLElement {
  const error = el('p', { id: 'action-error', class: 'error-text', 'aria-live': 'polite' });
  const submit = async (e: Event) => {
    e.preventDefault();
    error.textContent = '';
    const id = ($('action-id') as HTMLInputElement).value.trim();
    let features: unknown;
    try {
      features = JSON.parse(($('action-features') as HTMLTextAreaElement).value || '{}');
    } catch (err) {
      error.textContent = `Features are not valid JSON: ${(err as Error).message}`;
      return;
    }
    const startsAt = fromLocalInput(($('action-starts') as HTMLInputElement).value);
    const endsAt = fromLocalInput(($('action-ends') as HTMLInputElement).value);
    try {
      await call('PUT', `/v1/decision-points/${enc(dp)}/actions/${enc(id)}`, {
        features,
        ...(startsAt ? { startsAt } : {}),
        ...(endsAt ? { endsAt } : {}),
      });
      showMessage(`Action ${id} saved${startsAt ? `, scheduled from ${startsAt}` : ''}.`, 'info');
      await renderActions(dp, box);
    } catch (err) {
      if (err instanceof ApiError && !err.refused) error.textContent = err.message;
      else failed(err);
    }
  };
  return el(
    'form',
    { id: 'action-form', onsubmit: submit, 'aria-labelledby': 'action-form-title' },
    el('h4', { id: 'action-form-title' }, 'Add, schedule or edit an action'),
    el(
      'div',
      { class: 'grid2' },
      el(
        'div',
        {},
        el('label', { for: 'action-id' }, 'Action id'),
        el('input', { id: 'action-id', required: true, autocomplete: 'off', 'aria-describedby': 'action-error' }),
        el('label', { for: 'action-starts' }, 'Starts (your time zone; empty: now)'),
        el('input', { id: 'action-starts', type: 'datetime-local' }),
        el('label', { for: 'action-ends' }, 'Ends (empty: never)'),
        el('input', { id: 'action-ends', type: 'datetime-local' }),
      ),
      el(
        'div',
        {},
        el('label', { for: 'action-features' }, 'Features (JSON object)'),
        el('textarea', { id: 'action-features', spellcheck: 'false' }),
      ),
    ),
    error,
    el('div', { class: 'row' }, el('button', { type: 'submit' }, 'Save action')),
  );
}

// ── learning over time ──────────────────────────────────────────────────────────────────────────────────────────

interface LearningWindow {
  start: string;
  decisions: number;
  rewardEvents: number;
  lateEvents: number;
  meanReward: number | null;
  uniformEstimate: number | null;
  explorationShare: number | null;
  meanDelaySeconds: number | null;
}
interface Learning {
  resolution: string;
  windowSeconds: number;
  from: string;
  to: string;
  windows: LearningWindow[];
  deadLetters: { dead: Record<string, number>; held: number; complete: boolean };
}

const PERIODS = [
  { value: '1', label: 'last hour, by minute' },
  { value: '6', label: 'last 6 hours, by minute' },
  { value: '24', label: 'last day, by hour' },
  { value: '168', label: 'last week, by hour' },
  { value: '720', label: 'last 30 days, by day' },
  { value: '2160', label: 'last 90 days, by day' },
];
const DEFAULT_PERIOD = '6';

async function renderLearning(dp: string, box: HTMLElement): Promise<void> {
  const hoursSelect = el(
    'select',
    {
      id: 'learning-hours',
      onchange: () => void renderLearningWith(dp, box, Number((hoursSelect as HTMLSelectElement).value)),
    },
    ...PERIODS.map((p) => el('option', { value: p.value }, p.label)),
  ) as HTMLSelectElement;
  box.replaceChildren(
    el('div', { class: 'row' }, el('label', { for: 'learning-hours' }, 'Period'), hoursSelect),
    el('div', { id: 'learning-body' }),
  );
  hoursSelect.value = DEFAULT_PERIOD;
  await renderLearningWith(dp, box, Number(DEFAULT_PERIOD));
}

async function renderLearningWith(dp: string, box: HTMLElement, hours: number): Promise<void> {
  const body = box.querySelector<HTMLElement>('#learning-body')!;
  const s = await call<Learning>('GET', `/v1/decision-points/${enc(dp)}/learning?hours=${hours}`);
  const w = s.windows;
  const times = w.map((x) => Date.parse(x.start) / 1000);
  // The period's axis, starting at its first window with data (a new decision point's minutes fill the chart).
  const range: [number, number] = [
    Math.max(Date.parse(s.from) / 1000, (times[0] ?? 0) - s.windowSeconds),
    Date.parse(s.to) / 1000,
  ];
  const per = s.resolution;
  const late = w.reduce((n, x) => n + x.lateEvents, 0);
  const dead = Object.entries(s.deadLetters.dead);
  const decisions = w.reduce((n, x) => n + x.decisions, 0);
  body.replaceChildren(
    w.length === 0
      ? el('p', {}, 'No decision in this period yet.')
      : el(
          'div',
          { class: 'grid2', id: 'learning-charts' },
          lineChart(`Reward per decision, per ${per}`, times, range, [
            { label: 'served policy', values: w.map((x) => x.meanReward), color: '#0b5cad' },
            {
              label: 'uniform serving (estimated)',
              values: w.map((x) => x.uniformEstimate),
              color: '#a4161a',
              dash: [6, 4],
            },
          ]),
          lineChart(`Exploration share, per ${per}`, times, range, [
            { label: 'exploration share', values: w.map((x) => x.explorationShare), color: '#146c2e' },
          ]),
          lineChart(
            `Decisions and rewarded events, per ${per}`,
            times,
            range,
            [
              { label: 'decisions', values: w.map((x) => x.decisions), color: '#1b1f24' },
              { label: 'rewarded events', values: w.map((x) => x.rewardEvents), color: '#0b5cad' },
            ],
            0,
          ),
          lineChart(
            `Feedback delay (seconds), per ${per}`,
            times,
            range,
            [{ label: 'mean delay', values: w.map((x) => x.meanDelaySeconds), color: '#6b3fa0' }],
            1,
          ),
        ),
    el(
      'table',
      { id: 'feedback-health' },
      el('caption', {}, 'Feedback that was not learned'),
      el(
        'tbody',
        {},
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, 'Decisions in the period'),
          el('td', { class: 'num' }, fmt(decisions, 0)),
        ),
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, 'Late events (after the attribution window)'),
          el('td', { class: 'num' }, fmt(late, 0)),
        ),
        el(
          'tr',
          {},
          el('th', { scope: 'row' }, 'Events waiting for their decision'),
          el('td', { class: 'num' }, fmt(s.deadLetters.held, 0)),
        ),
        ...(dead.length === 0
          ? [el('tr', {}, el('th', { scope: 'row' }, 'Dead letters'), el('td', { class: 'num' }, '0'))]
          : dead.map(([rule, n]) =>
              el('tr', {}, el('th', { scope: 'row' }, `Dead letters: ${rule}`), el('td', { class: 'num' }, fmt(n, 0))),
            )),
      ),
    ),
  );
}

// ── offline runs ────────────────────────────────────────────────────────────────────────────────────────────────

interface Policy {
  name: string;
  estimator: string;
  estimate: { value: number; lower: number | null; upper: number | null } | null;
  lowerBound: number | null;
  ess: number | null;
}
interface Evaluation {
  runId: string;
  version: string;
  outcome: 'promoted' | 'rejected' | 'failed';
  reasons: string[];
  warnings: string[];
  startedAt: string;
  finishedAt: string;
  trainedBefore: string;
  heldOutFrom: string;
  rounds: number | null;
  policies: Policy[];
  /** How the run chose the serving settings (Thompson scale, multipliers on the learned λs), in a sentence. */
  exploration?: { why: string };
}

async function renderRuns(dp: string, box: HTMLElement): Promise<void> {
  const { activeVersion, evaluations } = await call<{ activeVersion: string | null; evaluations: Evaluation[] }>(
    'GET',
    `/v1/decision-points/${enc(dp)}/evaluations`,
  );
  const rollback = async () => {
    const ok = await confirmAction(
      `Roll ${dp} back from offline model ${activeVersion}? The previously active model (or online-only serving) serves again.`,
      'Roll back',
    );
    if (!ok) return;
    try {
      const r = await call<{ version: string }>('POST', `/v1/decision-points/${enc(dp)}/model:rollback`, {
        from: activeVersion,
      });
      showMessage(`Rolled back: ${dp} now serves ${r.version}.`, 'info');
      await renderRuns(dp, box);
    } catch (err) {
      failed(err);
    }
  };
  box.replaceChildren(
    el(
      'p',
      {},
      `Active offline model: ${activeVersion ?? 'none (online learning only)'}`,
      activeVersion ? ' ' : '',
      activeVersion
        ? el(
            'button',
            { type: 'button', class: 'danger', id: 'rollback', onclick: () => void rollback() },
            'Roll back…',
          )
        : null,
    ),
    evaluations.length === 0
      ? el('p', {}, 'No retraining run yet.')
      : el(
          'div',
          {},
          ...evaluations.map((e) =>
            el(
              'article',
              { class: 'run', 'aria-label': `Run ${e.runId}` },
              el(
                'p',
                {},
                el('strong', {}, `${when(e.finishedAt)} · ${e.version} · `),
                el('span', { class: e.outcome }, e.outcome),
                ` · trained before ${e.trainedBefore}, evaluated from ${e.heldOutFrom}` +
                  (e.rounds === null ? '' : ` on ${fmt(e.rounds, 0)} rounds`),
              ),
              e.reasons.length ? el('ul', {}, ...e.reasons.map((r) => el('li', {}, r))) : null,
              e.warnings.length
                ? el('ul', { class: 'muted' }, ...e.warnings.map((r) => el('li', {}, `warning: ${r}`)))
                : null,
              e.exploration ? el('p', { class: 'muted' }, `Serving settings: ${e.exploration.why}.`) : null,
              el(
                'table',
                {},
                el('caption', {}, `Off-policy estimates of run ${e.runId}`),
                el(
                  'thead',
                  {},
                  el(
                    'tr',
                    {},
                    ...['Policy', 'Estimator', 'Estimate', 'Interval', 'Lower bound', 'ESS'].map((h) =>
                      el('th', { scope: 'col' }, h),
                    ),
                  ),
                ),
                el(
                  'tbody',
                  {},
                  ...e.policies.map((p) =>
                    el(
                      'tr',
                      {},
                      el('th', { scope: 'row' }, p.name),
                      el('td', {}, p.estimator),
                      el('td', { class: 'num' }, fmt(p.estimate?.value)),
                      el(
                        'td',
                        { class: 'num' },
                        p.estimate ? `[${fmt(p.estimate.lower)}, ${fmt(p.estimate.upper)}]` : '–',
                      ),
                      el('td', { class: 'num' }, fmt(p.lowerBound)),
                      el('td', { class: 'num' }, fmt(p.ess, 0)),
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
  );
}

// ── start ───────────────────────────────────────────────────────────────────────────────────────────────────────

$('sign-in').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = $<HTMLInputElement>('key').value.trim();
  if (!key) return;
  storeKey(key);
  $<HTMLInputElement>('key').value = '';
  void open();
});
$('sign-out').addEventListener('click', () => {
  forgetKey();
  clearMessage();
  showSignIn();
});
takeKeyFromFragment();
void open();
