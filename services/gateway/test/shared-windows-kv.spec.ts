import { connect, NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { deleteStreams, testNamespace, testNatsUrl } from '@maas/testing';
import { LEASE_SPEC } from '../src/policy/limit-lease';
import { KeyTokenWindows, ledgerInstants } from '../src/policy/token-windows';
import { gatewayClock } from '../src/repositories/clock';
import { SharedLimitsRepository } from '../src/repositories/shared-limits.repository';
import { KeyLimitsService } from '../src/services/key-limits.service';
import { sleep } from './support/stack';

const LIMIT = 20_000;
const TOKENS = 50;
/** Requests each gateway has in flight at any time, each taking SERVE_MS. */
const CONCURRENCY = 4;
const SERVE_MS = 100;
const spec = { shortMs: 3 * 3_600_000, longMs: 7 * 86_400_000 };

/**
 * A key's 3 h window checked by two gateways at once, each with its own NATS connection and the KV
 * bucket of the per-minute limits: every gateway's tokens since the ledger's answer come from the
 * shared state (as TokenBudgetService asks KeyLimitsService.windowTokensSince), so together they admit
 * beyond the window only what was in flight and what the other finished within the state's refresh.
 * Without the shared state each gateway admits the whole window on its own counts.
 */
describe('token windows shared through the key-limits KV bucket', () => {
  const namespace = testNamespace();
  const connections: NatsConnection[] = [];
  const services: KeyLimitsService[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const nc = await connect({ servers: testNatsUrl(), name: `gateway-${i}` });
      connections.push(nc);
      services.push(new KeyLimitsService(gatewayClock, undefined, new SharedLimitsRepository(new MessageBus(nc, new Subjects(namespace)))));
    }
  });

  afterAll(async () => {
    for (const s of services) s.onModuleDestroy();
    await deleteStreams(connections[0], namespace);
    for (const nc of connections) await nc.close();
  });

  /** Both gateways serve the key until their window says no; returns each served request's gateway, finish time and tokens. */
  async function drive(keyId: string, shared: boolean) {
    const limits = { chatShortWindowTokens: LIMIT };
    const until = Math.floor(Date.now() / 1000) * 1000;
    const served: { gateway: number; at: number }[] = [];
    await Promise.all(
      services.map(async (service, g) => {
        // A fresh key: the ledger has nothing up to `until`.
        const windows = new KeyTokenWindows(spec);
        windows.seed(
          ledgerInstants(spec, until).map((since) => ({ since, chat: 0, batch: 0 })),
          until,
          until,
        );
        const loop = async () => {
          for (;;) {
            const recent = shared ? await service.windowTokensSince(keyId, 'chat', until) : undefined;
            const now = Date.now();
            if (windows.exceeded('chat', limits, now, recent === undefined ? undefined : { since: until, tokens: recent })) return;
            await sleep(SERVE_MS);
            const at = Date.now();
            windows.add('chat', TOKENS, at);
            if (shared) service.recordWindowTokens(keyId, 'chat', TOKENS, at);
            served.push({ gateway: g, at });
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, loop));
      }),
    );
    return served;
  }

  it('admits beyond the window only the requests in flight and what the other gateway finished within the refresh', async () => {
    const alone = await drive('key-alone', false);
    const shared = await drive('key-shared', true);
    const total = (s: { gateway: number }[]) => s.length * TOKENS;
    // What each gateway could not see when it last admitted: the other's tokens within two refreshes.
    const refreshMs = 3 * LEASE_SPEC.lifetimeMs;
    const unseen = [0, 1].map((g) => {
      const last = Math.max(...shared.filter((s) => s.gateway === g).map((s) => s.at)) - SERVE_MS;
      return shared.filter((s) => s.gateway !== g && s.at >= last - refreshMs && s.at <= last).length * TOKENS;
    });
    const bound = LIMIT + 2 * CONCURRENCY * TOKENS + unseen[0] + unseen[1];
    process.stdout.write(
      `window ${LIMIT} tokens, two gateways with ${CONCURRENCY} requests of ${TOKENS} tokens in flight each: ` +
        `counting alone ${total(alone)} tokens admitted; sharing ${total(shared)} (bound ${bound})\n`,
    );
    expect(total(alone)).toBeGreaterThanOrEqual(2 * LIMIT);
    expect(total(shared)).toBeGreaterThanOrEqual(LIMIT);
    expect(total(shared)).toBeLessThanOrEqual(bound);
    expect(total(shared) - LIMIT).toBeLessThan((total(alone) - LIMIT) / 4);
  }, 60_000);
});
