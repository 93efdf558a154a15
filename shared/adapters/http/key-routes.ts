/**
 * `/v1/keys` on the admin API. Managing keys needs an admin key that is not restricted to decision points: a
 * restricted admin could otherwise mint an unrestricted key and escape its restriction.
 */
import type { ApiKeyAuthenticator, Principal } from '../../app/auth.ts';
import type { ApiKeyService } from '../../app/keys/keys.ts';
import { ForbiddenError } from '../../core/errors.ts';
import type { Route } from './api.ts';
import type { apiKeyListSchema, apiKeyViewSchema, Body, createdApiKeySchema } from './responses.ts';

function requireUnrestricted(principal: Principal): void {
  if (principal.decisionPoints) {
    throw new ForbiddenError('managing API keys needs an admin key that is not restricted to decision points');
  }
}

export function keyRoutes(keys: ApiKeyService, authenticator: Pick<ApiKeyAuthenticator, 'invalidate'>): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/keys',
      scope: 'admin',
      audit: { action: 'key.create' },
      handle: async ({ body, principal }) => {
        requireUnrestricted(principal);
        const { key, secret } = await keys.create(body);
        // The only time the secret is shown: the response must not be cached anywhere (json() sets no-store). The
        // audit entry names the new key by id only.
        return {
          status: 201,
          body: { ...key, secret } satisfies Body<typeof createdApiKeySchema>,
          audit: { target: key.keyId },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/keys',
      scope: 'admin',
      handle: async ({ principal }) => {
        requireUnrestricted(principal);
        return { status: 200, body: { keys: await keys.list() } satisfies Body<typeof apiKeyListSchema> };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/keys/{keyId}',
      scope: 'admin',
      audit: { action: 'key.revoke', target: (p) => p.keyId },
      handle: async ({ params, principal }) => {
        requireUnrestricted(principal);
        const key = await keys.revoke(params.keyId!);
        // This container stops accepting the key at once; others within their cache TTL.
        authenticator.invalidate();
        return { status: 200, body: key satisfies Body<typeof apiKeyViewSchema> };
      },
    },
  ];
}
