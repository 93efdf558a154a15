export interface ProgressLine {
  update(text: string): void;
  /** Erases the line; call before printing results or errors. */
  done(): void;
}

const NOOP: ProgressLine = { update() {}, done() {} };

/**
 * A single self-overwriting status line on a terminal, redrawn at most every `intervalMs`. When the stream is not a
 * TTY (piped, CI, tests) it does nothing, so machine consumers see no noise.
 */
export function createProgressLine(
  stream: { isTTY?: boolean; write(s: string): boolean },
  intervalMs = 100,
): ProgressLine {
  if (stream.isTTY !== true) return NOOP;
  let last = 0;
  let shown = false;
  return {
    update(text) {
      const now = Date.now();
      if (now - last < intervalMs) return;
      last = now;
      shown = true;
      stream.write(`\r\x1b[K${text}`);
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
