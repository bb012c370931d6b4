import { startService, StartedService } from '@maas/testing';
import { chatBody, sleep, Stack } from './support/stack';

/** How often each gateway re-reads a key's windows from the ledger, and how recent a finish it leaves to local counting. */
const RESEED_S = 5;
const LAG_S = 3;
/** Each gateway is offered this many requests per second. */
const RATE = 4;
const LIMIT = 3000;

/**
 * The 3 h / 7 d token windows are shared through metrics-collector's ledger: each gateway counts its
 * own requests and re-reads every gateway's totals every GATEWAY_LEDGER_RESEED, finishes younger than
 * GATEWAY_LEDGER_LAG excepted. Two gateways sending for one key at once may therefore admit, beyond
 * the window's limit, what the other gateway served in the last reseed interval plus lag (plus one
 * request in flight per gateway), and no more: measured here with the limit reached through both.
 */
describe('gateway: token windows shared by two gateways through the ledger', () => {
  const env = { GATEWAY_LEDGER_RESEED: `${RESEED_S}s`, GATEWAY_LEDGER_LAG: `${LAG_S}s` };
  const stack = new Stack(env);
  let b: StartedService;
  let collector: StartedService;

  beforeAll(async () => {
    await stack.start();
    collector = await startService('metrics-collector', stack.env);
    b = await stack.startGateway();
    const worker = await stack.startWorker(['--capacity', '32']);
    await b.waitFor((r) => r.msg === 'worker joined' && r.workerId === worker.workerId, 15_000, 'gateway B learning the worker');
  }, 120_000);

  afterAll(async () => {
    await collector?.stop();
    await stack.stop();
  });

  it('admits beyond the short window only what the other gateway served within a reseed and the lag', async () => {
    const { secret } = await stack.createKey({ name: 'windows', limits: { chatShortWindowTokens: LIMIT } });
    const gateways = [stack.gateway, b];
    const served: { gateway: number; at: number; tokens: number }[] = [];
    const refusedInARow = [0, 0];
    const other: string[] = [];
    const start = Date.now();
    const sender = async (g: number) => {
      const inFlight: Promise<void>[] = [];
      for (let i = 0; refusedInARow[g] < 2 * RATE && Date.now() - start < 60_000; i++) {
        await sleep(Math.max(0, start + (i * 1000) / RATE - Date.now()));
        inFlight.push(
          (async () => {
            const res = await fetch(`${gateways[g].url}/v1/chat/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
              body: JSON.stringify(chatBody({ max_tokens: 40 })),
            });
            const body = await res.json();
            if (res.status === 200) {
              served.push({ gateway: g, at: Date.now(), tokens: body.usage.total_tokens });
              refusedInARow[g] = 0;
            } else if (res.status === 429 && body.error.code === 'chat_short_window_tokens_exceeded') refusedInARow[g]++;
            else other.push(`${res.status} ${body.error?.code}`);
          })(),
        );
      }
      await Promise.all(inFlight);
    };
    await Promise.all([sender(0), sender(1)]);
    expect(other).toEqual([]);

    const total = served.reduce((n, s) => n + s.tokens, 0);
    const largest = Math.max(...served.map((s) => s.tokens));
    // What each gateway could not see when it last admitted: the other's tokens in the reseed interval and lag before.
    const unseen = [0, 1].map((g) => {
      const last = Math.max(...served.filter((s) => s.gateway === g).map((s) => s.at));
      const from = last - (RESEED_S + LAG_S + 1) * 1000;
      return served.filter((s) => s.gateway !== g && s.at >= from && s.at <= last).reduce((n, s) => n + s.tokens, 0);
    });
    const bound = LIMIT + unseen[0] + unseen[1] + 2 * largest;
    process.stdout.write(
      `token window ${LIMIT} through two gateways at ${RATE} req/s each (reseed ${RESEED_S} s, lag ${LAG_S} s): ` +
        `admitted ${total} tokens in ${served.length} requests (a ${served.filter((s) => s.gateway === 0).length}, ` +
        `b ${served.filter((s) => s.gateway === 1).length}); over by ${total - LIMIT}; bound ${bound}\n`,
    );
    expect(total).toBeGreaterThanOrEqual(LIMIT - largest);
    expect(total).toBeLessThanOrEqual(bound);
  }, 150_000);
});
