/**
 * The demo decision point `npm start` seeds (and the console's browser tests start from): "homepage" with four
 * actions, created through the public API only if it does not exist yet.
 */
export const DEMO_DECISION_POINT = 'homepage';

export async function seedDemo(url: string, key: string) {
  const call = (method: string, path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const existing = await fetch(`${url}/v1/decision-points/${DEMO_DECISION_POINT}`, { headers: { 'x-api-key': key } });
  if (existing.status === 200) return;
  await call('PUT', `/v1/decision-points/${DEMO_DECISION_POINT}`, {
    description: 'demo',
    attributionWindowSeconds: 600,
    rewards: { click: 1, purchase: 10 },
  });
  const actions: Record<string, Record<string, string | number>> = {
    'spring-sale': { category: 'promo', discount: 0.2 },
    'new-arrivals': { category: 'catalog', discount: 0 },
    'free-shipping': { category: 'promo', discount: 0.05 },
    'loyalty-club': { category: 'membership', discount: 0 },
  };
  for (const [id, features] of Object.entries(actions))
    await call('PUT', `/v1/decision-points/${DEMO_DECISION_POINT}/actions/${id}`, { features });
}
