import { startService, StartedService } from '@maas/testing';
import { chatBody, sleep, Stack } from './support/stack';

/** How often each gateway re-reads a key's windows from the ledger, and how recent a finish it leaves to local counting. */
const RESEED_S = 5;
const LAG_S = 3;
/** Each gateway is offered this many requests per second. */
const RATE = 4;
const LIMIT = 3000;

/** How stale a gateway's view of the other's finished tokens may be: the shared entry is re-read about every 2 s. */
const SHARED_LAG_S = 3;

/**
 * The 3 h / 7 d token windows: each gateway re-reads every gateway's totals from metrics-collector's
 * ledger every GATEWAY_LEDGER_RESEED (finishes younger than GATEWAY_LEDGER_LAG excepted) and adds what
 * every gateway finished since the ledger's answer from the key-limits KV entry. Two gateways sending
 * for one key at once may therefore admit, beyond the window's limit, only their requests in flight and
 * what the other served in the last seconds — not the whole reseed interval and lag the ledger alone
 * would leave unseen: measured here with the limit reached through both.
 */
describe('gateway: token windows shared by two gateways through the ledger and the key-limits KV entry', () => {
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

  it('admits beyond the short window only the requests in flight and the last seconds of the other gateway', async () => {
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
    // What each gateway could not see when it last admitted: the other's tokens in the last seconds before.
    const unseenWithin = (seconds: number) =>
      [0, 1].map((g) => {
        const last = Math.max(...served.filter((s) => s.gateway === g).map((s) => s.at));
        const from = last - seconds * 1000;
        return served.filter((s) => s.gateway !== g && s.at >= from && s.at <= last).reduce((n, s) => n + s.tokens, 0);
      });
    const unseen = unseenWithin(SHARED_LAG_S);
    const ledgerOnlyBound = LIMIT + unseenWithin(RESEED_S + LAG_S + 1).reduce((a, b) => a + b, 0) + 2 * largest;
    // requests in flight: up to RATE per gateway per second of a request's duration; two per gateway here
    const bound = LIMIT + unseen[0] + unseen[1] + 4 * largest;
    process.stdout.write(
      `token window ${LIMIT} through two gateways at ${RATE} req/s each (reseed ${RESEED_S} s, lag ${LAG_S} s): ` +
        `admitted ${total} tokens in ${served.length} requests (a ${served.filter((s) => s.gateway === 0).length}, ` +
        `b ${served.filter((s) => s.gateway === 1).length}); over by ${total - LIMIT}; bound ${bound} (the ledger alone: ${ledgerOnlyBound})\n`,
    );
    expect(total).toBeGreaterThanOrEqual(LIMIT - largest);
    expect(total).toBeLessThanOrEqual(bound);
  }, 150_000);
});
