/**
 * API key management: create (the secret is returned once and never stored), list (never secrets, never hashes),
 * revoke. Used by the admin API (`/v1/keys`) and the CLI (`npm run keys`), so both apply the same rules.
 *
 * A revoked key stays in the table with `revokedAt`, so a list shows who had access and until when. Containers cache
 * lookups (see `ApiKeyAuthenticator`): revocation takes effect at once in the container that revoked, and within
 * the positive cache TTL (60 s) everywhere else.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ApiKeyRecord, ApiKeyScope } from '../../core/domain.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { StateStore } from '../../core/ports.ts';
import { decisionPointIdSchema, describeZodError } from '../../core/schemas.ts';
import { generateApiKey, hashApiKey } from '../auth.ts';

export const API_KEY_SCOPES = ['decide', 'feedback', 'admin'] as const satisfies readonly ApiKeyScope[];

export const createApiKeySchema = z.strictObject({
  /** Who or what the key is for; shown in lists, never used for authentication. */
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[^\p{C}]*$/u, 'must not contain control characters'),
  scopes: z
    .array(z.enum(API_KEY_SCOPES))
    .min(1)
    .max(API_KEY_SCOPES.length)
    .refine((s) => new Set(s).size === s.length, 'scopes must be distinct'),
  /** Restricts the key to these decision points; absent: all of them. */
  decisionPoints: z.array(decisionPointIdSchema).min(1).max(100).optional(),
});
export type CreateApiKeyInput = z.input<typeof createApiKeySchema>;

/** Generated ids are `key_` + 16 hex digits; seeded keys (the local admin key) may have other simple ids. */
export const keyIdSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters from A-Z a-z 0-9 . _ -');

/** What a list or a create shows about a key: everything except the secret and its hash. */
export interface ApiKeyView {
  keyId: string;
  name: string;
  scopes: ApiKeyScope[];
  decisionPoints?: string[];
  createdAt: string;
  revokedAt?: string;
  status: 'active' | 'revoked';
}

export const viewOf = (k: ApiKeyRecord): ApiKeyView => ({
  keyId: k.keyId,
  name: k.name,
  scopes: k.scopes,
  ...(k.decisionPoints ? { decisionPoints: k.decisionPoints } : {}),
  createdAt: new Date(k.createdAt).toISOString(),
  ...(k.revokedAt !== undefined ? { revokedAt: new Date(k.revokedAt).toISOString() } : {}),
  status: k.revokedAt === undefined ? 'active' : 'revoked',
});

export class ApiKeyService {
  constructor(
    private readonly store: Pick<StateStore, 'putApiKey' | 'listApiKeys'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates a key. The returned `secret` is the only copy: it cannot be shown again. */
  async create(input: unknown): Promise<{ key: ApiKeyView; secret: string }> {
    const parsed = createApiKeySchema.safeParse(input);
    if (!parsed.success) throw new ValidationError(`invalid key: ${describeZodError(parsed.error)}`);
    const secret = generateApiKey();
    const record: ApiKeyRecord = {
      keyId: `key_${randomBytes(8).toString('hex')}`,
      hash: hashApiKey(secret),
      name: parsed.data.name,
      scopes: parsed.data.scopes,
      decisionPoints: parsed.data.decisionPoints,
      createdAt: this.now(),
    };
    await this.store.putApiKey(record);
    return { key: viewOf(record), secret };
  }

  /** Every key, newest first. */
  async list(): Promise<ApiKeyView[]> {
    const keys = await this.store.listApiKeys();
    return keys.sort((a, b) => b.createdAt - a.createdAt).map(viewOf);
  }

  /** Revokes a key by id (idempotent: revoking a revoked key keeps the first revocation time). */
  async revoke(keyId: string): Promise<ApiKeyView> {
    const id = keyIdSchema.safeParse(keyId);
    const record = id.success ? (await this.store.listApiKeys()).find((k) => k.keyId === keyId) : undefined;
    if (!record) throw new NotFoundError(`API key ${keyId} does not exist`);
    if (record.revokedAt !== undefined) return viewOf(record);
    const revoked: ApiKeyRecord = { ...record, revokedAt: this.now() };
    await this.store.putApiKey(revoked);
    return viewOf(revoked);
  }
}
