/**
 * API key management: create (the secret is returned once and never stored), list (never secrets, never hashes),
 * revoke. Used by the admin API (`/v1/keys`) and the CLI (`npm run keys`), so both apply the same rules.
 *
 * A key may carry an expiry (`expiresAt`, in the future when the key is created; from then on it is refused with a
 * 401 naming the instant, and listed as `expired`) and its own request limit (`rateLimit`, per container; without
 * one the function's default applies: see shared/app/rate-limit.ts).
 *
 * A revoked key stays in the table with `revokedAt`, so a list shows who had access and until when. Containers cache
 * lookups (see `ApiKeyAuthenticator`): revocation takes effect at once in the container that revoked, and within
 * the positive cache TTL (60 s) everywhere else.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { instantMs, instantSchema } from '../../core/catalog/schedule.ts';
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
  /** When the key stops working (ISO-8601 with an offset; must be in the future); absent: until revoked. */
  expiresAt: instantSchema.optional(),
  /** The key's request limit per container (token bucket); absent: the function's default. */
  rateLimit: z
    .strictObject({
      ratePerSecond: z.number().positive().max(100_000),
      burst: z.number().int().min(1).max(200_000),
    })
    .optional(),
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
  expiresAt?: string;
  rateLimit?: { ratePerSecond: number; burst: number };
  /** At the time of the answer: revoked wins over expired. */
  status: 'active' | 'revoked' | 'expired';
}

export const viewOf = (k: ApiKeyRecord, now: number): ApiKeyView => ({
  keyId: k.keyId,
  name: k.name,
  scopes: k.scopes,
  ...(k.decisionPoints ? { decisionPoints: k.decisionPoints } : {}),
  createdAt: new Date(k.createdAt).toISOString(),
  ...(k.revokedAt !== undefined ? { revokedAt: new Date(k.revokedAt).toISOString() } : {}),
  ...(k.expiresAt !== undefined ? { expiresAt: new Date(k.expiresAt).toISOString() } : {}),
  ...(k.rateLimit ? { rateLimit: k.rateLimit } : {}),
  status:
    k.revokedAt !== undefined ? 'revoked' : k.expiresAt !== undefined && now >= k.expiresAt ? 'expired' : 'active',
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
    const now = this.now();
    const expiresAt = parsed.data.expiresAt === undefined ? undefined : instantMs(parsed.data.expiresAt);
    if (expiresAt !== undefined && expiresAt <= now) {
      throw new ValidationError(
        `invalid key: expiresAt: must be in the future (it is now ${new Date(now).toISOString()})`,
      );
    }
    const secret = generateApiKey();
    const record: ApiKeyRecord = {
      keyId: `key_${randomBytes(8).toString('hex')}`,
      hash: hashApiKey(secret),
      name: parsed.data.name,
      scopes: parsed.data.scopes,
      decisionPoints: parsed.data.decisionPoints,
      createdAt: now,
      expiresAt,
      rateLimit: parsed.data.rateLimit,
    };
    await this.store.putApiKey(record);
    return { key: viewOf(record, now), secret };
  }

  /** Every key, newest first. */
  async list(): Promise<ApiKeyView[]> {
    const keys = await this.store.listApiKeys();
    const now = this.now();
    return keys.sort((a, b) => b.createdAt - a.createdAt).map((k) => viewOf(k, now));
  }

  /** Revokes a key by id (idempotent: revoking a revoked key keeps the first revocation time). */
  async revoke(keyId: string): Promise<ApiKeyView> {
    const id = keyIdSchema.safeParse(keyId);
    const record = id.success ? (await this.store.listApiKeys()).find((k) => k.keyId === keyId) : undefined;
    if (!record) throw new NotFoundError(`API key ${keyId} does not exist`);
    const now = this.now();
    if (record.revokedAt !== undefined) return viewOf(record, now);
    const revoked: ApiKeyRecord = { ...record, revokedAt: now };
    await this.store.putApiKey(revoked);
    return viewOf(revoked, now);
  }
}
