/**
 * The engine's admin API as the command-line tools reach it: one base URL (`--url`, else NBA_API_URL, else the local
 * engine `npm start` runs) and one key (`--key`, else NBA_API_KEY, else the key `npm start` stored in the data folder). A refused request is an
 * {@link EngineRefusedError} carrying the engine's own message; no engine at the URL is an
 * {@link EngineUnreachableError} that says how to start one.
 */
import { defaultApiKey } from '../../local/api-key.ts';
import { localApiUrl } from './local.ts';

/** The engine answered with an error status: the message is its own. */
export class EngineRefusedError extends Error {
  override readonly name = 'EngineRefusedError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Nothing answered at the URL. */
export class EngineUnreachableError extends Error {
  override readonly name = 'EngineUnreachableError';
}

export interface EngineApi {
  readonly url: string;
  /** Answers the parsed body of a 2xx; 404 gives `undefined` when `allowMissing`; other statuses throw. */
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    opts?: { allowMissing?: boolean },
  ): Promise<T | undefined>;
}

export function engineApi(flags: { url?: string | undefined; key?: string | undefined }): EngineApi {
  const url = (flags.url ?? process.env.NBA_API_URL ?? localApiUrl()).replace(/\/$/, '');
  const key = defaultApiKey(flags.key);
  return {
    url,
    async call(method, path, body, opts) {
      // Without a key nothing can be asked: the same situation for a tool as no engine at all.
      if (key === undefined) {
        throw new EngineUnreachableError(
          'no API key to ask the engine with: pass --key, set NBA_API_KEY, or start the engine once (npm start) so that it stores one in .local-data/api-key',
        );
      }
      let res: Response;
      try {
        res = await fetch(`${url}${path}`, {
          method,
          headers: { 'x-api-key': key, ...(body !== undefined && { 'content-type': 'application/json' }) },
          ...(body !== undefined && { body: JSON.stringify(body) }),
        });
      } catch (error) {
        const cause = (error as Error & { cause?: Error }).cause?.message ?? (error as Error).message;
        throw new EngineUnreachableError(
          `cannot reach the engine at ${url} (${cause}): is \`npm start\` running, or is --url (NBA_API_URL) right?`,
        );
      }
      const text = await res.text();
      const parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      if (res.status === 404 && opts?.allowMissing) return undefined;
      if (!res.ok) {
        const error = parsed.error as { message?: string } | undefined;
        throw new EngineRefusedError(
          res.status,
          `the engine answered ${res.status} to ${method} ${path}: ${error?.message ?? text}`,
        );
      }
      return parsed as never;
    },
  };
}
