import type { StartedService } from '@maas/testing';
import { chatBody, json, sleep, Stack, waitUntil } from './support/stack';

/** Two gateways on one NATS: a key's requests per minute and concurrency hold across both. */
describe('gateway: key limits shared by two gateways', () => {
  const stack = new Stack();
  let b: StartedService;

  const post = (gateway: StartedService, secret: string, body: unknown, signal?: AbortSignal) =>
    fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body: JSON.stringify(body),
      signal,
    });

  beforeAll(async () => {
    await stack.start();
    b = await stack.startGateway();
    const worker = await stack.startWorker(['--capacity', '32']);
    await b.waitFor((r) => r.msg === 'worker joined' && r.workerId === worker.workerId, 15_000, 'gateway B learning the worker');
  }, 90_000);

  afterAll(() => stack.stop());

  it('admits a 60 rpm key about 60 times in a minute through both gateways together, not 120', async () => {
    const { secret } = await stack.createKey({ limits: { requestsPerMinute: 60 } });
    // The count is sliding: a burst that crossed into the next minute would see the previous one fade.
    if (Date.now() % 60_000 > 20_000) await sleep(60_000 - (Date.now() % 60_000) + 500);
    const minute = Math.floor(Date.now() / 60_000);
    const gateways = [stack.gateway, b];
    const admitted = [0, 0];
    const refused = [0, 0];
    const other: number[] = [];
    let next = 0;
    const sender = async () => {
      while (next < 240) {
        const i = next++;
        const res = await post(gateways[i % 2], secret, chatBody({ max_tokens: 1 }));
        await res.arrayBuffer();
        if (res.status === 200) admitted[i % 2]++;
        else if (res.status === 429) refused[i % 2]++;
        else other.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 6 }, sender));
    expect(Math.floor(Date.now() / 60_000)).toBe(minute); // the burst stayed within one minute
    expect(other).toEqual([]);
    const total = admitted[0] + admitted[1];
    expect(total).toBeGreaterThanOrEqual(58);
    expect(total).toBeLessThanOrEqual(62);
    // Both gateways served part of it, and both refused the rest.
    expect(Math.min(...admitted)).toBeGreaterThan(10);
    expect(Math.min(...refused)).toBeGreaterThan(0);
  }, 120_000);

  it("holds a key's concurrency limit across both gateways and frees a slot when a request ends", async () => {
    const { secret } = await stack.createKey({ limits: { maxConcurrent: 2 } });
    const long = chatBody({ stream: true, max_tokens: 4000, ignore_eos: true });
    const first = new AbortController();
    const second = new AbortController();
    const heldA = await post(stack.gateway, secret, long, first.signal);
    const heldB = await post(b, secret, long, second.signal);
    expect([heldA.status, heldB.status]).toEqual([200, 200]);

    for (const gateway of [stack.gateway, b]) {
      const res = await post(gateway, secret, chatBody({ max_tokens: 1 }));
      expect(res.status).toBe(429);
      expect((await json(res)).error.message).toMatch(/concurrent requests: used 2, limit 2/);
    }

    // One ends at gateway A: a request at gateway B fits again once A gives its slot back.
    first.abort();
    await heldA.body?.cancel().catch(() => undefined);
    await waitUntil(
      async () => {
        const res = await post(b, secret, chatBody({ max_tokens: 1 }));
        await res.arrayBuffer();
        return res.status === 200;
      },
      20_000,
      'gateway B admitting after gateway A released a slot',
    );
    second.abort();
    await heldB.body?.cancel().catch(() => undefined);
  }, 90_000);
});
