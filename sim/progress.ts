/**
 * Progress of long runs (simulate, gen-world, the learning-curve bench). On a terminal: one self-redrawing line with
 * a bar, the rate and the ETA (drawn by `cli/lib/progress.ts`, shared with the evaluate CLI). Otherwise (piped, CI
 * logs): a plain line at most every `plainIntervalMs` (5 s by default), so logs get a heartbeat, not a flood.
 */
import { createProgressLine } from '../cli/lib/progress.ts';

export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): boolean;
}

export interface Progress {
  /**
   * `done` units are finished. `fraction` (0…1) overrides done/total for the bar and the ETA, for callers that
   * know how far they are in bytes but not in units (a JSON-lines file of unknown line count).
   */
  update(done: number, fraction?: number): void;
  /** Clears the terminal line; call before printing results. */
  finish(): void;
}

export interface ProgressOptions {
  readonly label: string;
  /** Name of the units, plural: `rounds`, `lines`. */
  readonly unit: string;
  readonly total?: number;
  readonly stream?: ProgressStream;
  readonly plainIntervalMs?: number;
  readonly now?: () => number;
}

const BAR_WIDTH = 24;

/** `1:05`, `12s`, `1:02:03`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

const int = (v: number): string => Math.round(v).toLocaleString('en-US');

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const start = now();
  const { label, unit, total } = options;
  const describe = (done: number, fraction: number | undefined, bar: boolean): string => {
    const elapsed = (now() - start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const f = fraction ?? (total !== undefined && total > 0 ? done / total : undefined);
    const parts: string[] = [];
    if (f !== undefined) {
      const clamped = Math.min(1, Math.max(0, f));
      if (bar) {
        const filled = Math.round(clamped * BAR_WIDTH);
        parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`);
      }
      parts.push(`${(100 * clamped).toFixed(0)}%`);
    }
    parts.push(`${int(done)}${total !== undefined ? `/${int(total)}` : ''} ${unit}`);
    parts.push(`${int(rate)} ${unit}/s`);
    if (f !== undefined && f > 0 && f < 1) parts.push(`ETA ${formatDuration((elapsed * (1 - f)) / f)}`);
    return `${label} ${parts.join('  ')}`;
  };
  if (stream.isTTY === true) {
    const line = createProgressLine(stream);
    return {
      update: (done, fraction) => line.update(describe(done, fraction, true)),
      finish: () => line.done(),
    };
  }
  const interval = options.plainIntervalMs ?? 5000;
  let last = start;
  return {
    update(done, fraction) {
      const t = now();
      if (t - last < interval) return;
      last = t;
      stream.write(`${describe(done, fraction, false)}\n`);
    },
    finish() {},
  };
}
