/**
 * Waiting for a dependency no longer than a budget. The promise is not cancelled (the SDK call goes on and its
 * result may still be used, e.g. a late decision-log put that succeeds); the caller only stops waiting for it.
 */
export type Settled<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'timeout' }
  | { ok: false; reason: 'error'; error: unknown };

/** Settles with the promise's outcome, or `timeout` after `ms` (never, when `ms` is Infinity). */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  return new Promise((resolve) => {
    // setTimeout would run an infinite delay after 1 ms.
    const timer = Number.isFinite(ms)
      ? setTimeout(() => resolve({ ok: false, reason: 'timeout' }), Math.max(0, ms))
      : undefined;
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, reason: 'error', error });
      },
    );
  });
}
