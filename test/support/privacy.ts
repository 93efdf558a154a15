/** The pseudonym a local stack's API gives a user id: HMAC under the stack's own key (its template's secret). */
import type { LocalStack } from '../../local/stack.ts';
import { pseudonymise } from '../../shared/core/privacy.ts';

export async function pseudonymOf(stack: LocalStack, userId: string): Promise<string> {
  const [secret, ...others] = stack.plan.secrets;
  if (!secret || others.length > 0) throw new Error('expected the template to hold exactly one secret');
  return pseudonymise(await stack.secrets.read(secret.arn), userId);
}
