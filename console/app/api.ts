/**
 * The console's only way to the engine: its public HTTP API, on the same origin, with the admin key in the
 * `x-api-key` header. The key lives in this tab's session storage; a page opened with `#key=…` takes it from the
 * fragment (which browsers never send to a server) and removes it from the address bar.
 */

const KEY_ITEM = 'nba-console-key';

/** Where the API is: the console is served at `<stage>/console/`, the API at `<stage>/v1/`. */
export const apiBase = (): URL => new URL('../v1/', new URL('.', location.href));

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  /** The key was refused: missing, unknown, revoked, or not an admin key. */
  get refused(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export function takeKeyFromFragment(): void {
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!m) return;
  sessionStorage.setItem(KEY_ITEM, decodeURIComponent(m[1]!));
  history.replaceState(null, '', location.pathname + location.search);
}

export const storedKey = (): string | null => sessionStorage.getItem(KEY_ITEM);
export const storeKey = (key: string): void => sessionStorage.setItem(KEY_ITEM, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY_ITEM);

export async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const key = storedKey() ?? '';
  const url = new URL(path.replace(/^\/v1\//, ''), apiBase());
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? null : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, `The engine's API could not be reached at ${apiBase().href}. Is the engine running?`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const message =
      (json as { error?: { message?: string } } | undefined)?.error?.message ?? (text.slice(0, 200) || res.statusText);
    if (res.status === 401 || res.status === 403) {
      throw new ApiError(res.status, `The API key was refused (HTTP ${res.status}: ${message}). Enter an admin key.`);
    }
    throw new ApiError(res.status, `HTTP ${res.status}: ${message}`);
  }
  return json as T;
}

export const enc = encodeURIComponent;
