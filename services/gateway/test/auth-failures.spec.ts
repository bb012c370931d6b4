import { json, Stack } from './support/stack';

/** An address that keeps presenting keys nobody holds is refused (429) before each guess costs a key-registry lookup. */
describe('gateway: failed key checks per address', () => {
  const stack = new Stack({ GATEWAY_AUTH_FAILURES_PER_MINUTE: '5' });

  beforeAll(async () => {
    await stack.start();
  });

  afterAll(async () => {
    await stack.stop();
  });

  const models = (secret: string) => fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${secret}` } });
  const guess = (i: number) => `sk-guess${String(i).padStart(3, '0')}_${'x'.repeat(24)}`;

  it('answers 429 after N failures a minute, while keys already checked keep working', async () => {
    const { secret } = await stack.createKey({ name: 'held' });
    expect((await models(secret)).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      const res = await models(guess(i));
      expect(res.status).toBe(401);
      expect((await json(res)).error.code).toBe('invalid_api_key');
    }
    const refused = await models(guess(5));
    expect(refused.status).toBe(429);
    expect((await json(refused)).error).toMatchObject({ code: 'too_many_failed_authentications' });
    const wait = Number(refused.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    // The same through the inference endpoints.
    expect((await stack.post('/v1/chat/completions', guess(6), { model: 'm', messages: [{ role: 'user', content: 'hi' }] })).status).toBe(
      429,
    );
    expect((await models(secret)).status).toBe(200);
  });
});
