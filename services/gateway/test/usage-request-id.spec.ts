import { startService, StartedService } from '@maas/testing';
import { chatBody, json, Stack, waitUntil } from './support/stack';

/**
 * Usage is keyed on the gateway's own request id: a client reusing one `X-Request-Id` is billed for
 * every request, in the ledger and in `GET /v1/usage` after it is reseeded from the ledger.
 */
describe('gateway: a client-chosen X-Request-Id cannot erase usage', () => {
  const stack = new Stack({ GATEWAY_SHORT_WINDOW: '1h', GATEWAY_LONG_WINDOW: '1d', GATEWAY_LEDGER_RESEED: '1s' });
  let metrics: StartedService;

  beforeAll(async () => {
    await stack.start();
    [metrics] = await Promise.all([startService('metrics-collector', stack.env), stack.startWorker()]);
  });

  afterAll(async () => {
    await metrics?.stop();
    await stack.stop();
  });

  it('bills a client that sends the same X-Request-Id 100 times 100 times', async () => {
    const { secret, keyId } = await stack.createKey();
    const clientId = 'req-client-chosen-0001';
    const gatewayIds = new Set<string>();
    let billed = 0;
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const res = await stack.post('/v1/chat/completions', secret, chatBody({ max_tokens: 8 }), { 'x-request-id': clientId });
          expect(res.status).toBe(200);
          return { id: res.headers.get('x-request-id')!, body: await json(res) };
        }),
      );
      for (const a of answers) {
        gatewayIds.add(a.id);
        billed += a.body.usage.prompt_tokens + a.body.usage.completion_tokens;
      }
    }
    expect(gatewayIds.size).toBe(100);
    expect(gatewayIds.has(clientId)).toBe(false);

    const rows = await waitUntil(
      async () => {
        const got = await stack.db.query<{ request_id: string; client_request_id: string | null; tokens: number }>(
          'SELECT request_id, client_request_id, (prompt_tokens + completion_tokens)::int AS tokens FROM usage_records WHERE key_id = $1',
          [keyId],
        );
        return got.length >= 100 ? got : undefined;
      },
      60_000,
      'ledger rows of 100 requests',
    );
    expect(rows).toHaveLength(100);
    expect(new Set(rows.map((r) => r.request_id))).toEqual(gatewayIds);
    expect(rows.every((r) => r.client_request_id === clientId)).toBe(true);
    expect(rows.reduce((sum, r) => sum + r.tokens, 0)).toBe(billed);

    // The windows are reseeded from the ledger every second: they keep every request.
    const used = await waitUntil(
      async () => {
        const usage = await json(await fetch(stack.url('/v1/usage'), { headers: { authorization: `Bearer ${secret}` } }));
        return usage.chat.long_window.used_tokens === billed && usage.chat.short_window.used_tokens === billed ? usage : undefined;
      },
      30_000,
      `GET /v1/usage reporting ${billed} tokens`,
    );
    expect(used.api_key_id).toBe(keyId);
  });
});
