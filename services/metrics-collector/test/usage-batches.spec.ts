import { NatsConnection } from 'nats';
import { RequestCompleted, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  deleteStreams,
  factory,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNats,
  testNatsUrl,
} from '@maas/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitUntil<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

describe('metrics-collector: usage batches (usage.requests-completed)', () => {
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let svc: StartedService;
  const env = () => ({
    DATABASE_URL: db.url,
    NATS_URL: testNatsUrl(),
    MAAS_NAMESPACE: namespace,
    METRICS_INTERVAL_MS: '1s',
    METRICS_LATENESS_MS: '200ms',
  });
  /** Rows per request id among `ids` (absent ids are not listed). */
  const rowsOf = async (ids: readonly string[]) =>
    Object.fromEntries(
      (
        await db.query<{ request_id: string; n: number }>(
          'SELECT request_id, count(*)::int AS n FROM usage_records WHERE request_id = ANY($1) GROUP BY request_id',
          [ids],
        )
      ).map((r) => [r.request_id, r.n]),
    );
  const batch = (events: readonly unknown[]) => ({ records: events.map((event) => ({ event: event as RequestCompleted })) });

  beforeAll(async () => {
    db = await createTestDatabase('usagebatch');
    nc = await testNats();
    bus = new MessageBus(nc, subjects);
    svc = await startService('metrics-collector', env());
  });

  afterAll(async () => {
    await svc?.stop();
    await deleteStreams(nc, namespace);
    await nc?.close();
    await db?.drop();
  });

  it('stores a full batch with one row per request id, and a batch stored again (regrouped) counts nothing twice', async () => {
    const events = Array.from({ length: 256 }, (_, i) => factory.requestCompleted({ requestId: `req-full-${i}`, promptTokens: i }));
    const ids = events.map((e) => e.requestId);
    await bus.persist('usage.requests-completed', batch(events), 'batch-full');
    await waitUntil(async () => (Object.keys(await rowsOf(ids)).length === 256 ? true : undefined), 20_000, '256 rows');

    // The same events again, cut differently and with new ones (a gateway resending after a lost acknowledgement).
    const more = [factory.requestCompleted({ requestId: 'req-full-new' })];
    await bus.persist('usage.requests-completed', batch([...events.slice(100, 200), ...more, ...events.slice(0, 10)]), 'batch-regrouped');
    await waitUntil(async () => ((await rowsOf(['req-full-new']))['req-full-new'] ? true : undefined), 10_000, 'the new record');
    const rows = await rowsOf([...ids, 'req-full-new']);
    expect(Object.values(rows)).toEqual(new Array(257).fill(1));
    const sum = await db.query<{ s: string }>('SELECT sum(prompt_tokens)::text AS s FROM usage_records WHERE request_id LIKE $1', [
      'req-full-%',
    ]);
    expect(Number(sum[0].s)).toBe((255 * 256) / 2 + 12);
    const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^maas_requests_total\{[^}]*status="200"[^}]*\} 257$/m);
  });

  it('dead-letters a record the ledger refuses, leaves out one that is no usage event, and stores the rest of their batch', async () => {
    const fine = [factory.requestCompleted({ requestId: 'req-mixed-a' }), factory.requestCompleted({ requestId: 'req-mixed-b' })];
    const huge = factory.requestCompleted({ requestId: 'req-mixed-huge', promptTokens: 3_000_000_000 }); // out of range for int (22003)
    const malformed = { requestId: 'req-mixed-malformed', model: 'no other field' };
    await bus.persist('usage.requests-completed', batch([fine[0], huge, malformed, fine[1]]), 'batch-mixed');

    const letters = await waitUntil(
      async () => {
        const reply = await bus.request('metrics-collector.list-dead-letters', {});
        return reply.total === 1 ? reply : undefined;
      },
      15_000,
      'the dead letter',
    );
    expect(letters.deadLetters.map((d) => [d.requestId, d.reason.slice(0, 5)])).toEqual([['req-mixed-huge', '22003']]);
    expect(letters.deadLetters[0].event).toEqual(huge);
    expect(
      svc
        .records()
        .filter((r) => r.msg === 'usage record rejected: not a valid usage.request-completed')
        .map((r) => r.requestId),
    ).toEqual(['req-mixed-malformed']);
    expect(await rowsOf(['req-mixed-a', 'req-mixed-b', 'req-mixed-huge', 'req-mixed-malformed'])).toEqual({
      'req-mixed-a': 1,
      'req-mixed-b': 1,
    });
    const jsm = await nc.jetstreamManager();
    await waitUntil(
      async () =>
        (await jsm.consumers.info(subjects.stream('usage'), 'metrics-collector-batches')).num_ack_pending === 0 ? true : undefined,
      10_000,
      'nothing pending',
    );
  });

  it('still takes single events (sent before batches) from the same stream, once per request id with batches', async () => {
    const single = factory.requestCompleted({ requestId: 'req-single-old' });
    await bus.persist('usage.request-completed', single, single.requestId);
    await bus.persist(
      'usage.requests-completed',
      batch([single, factory.requestCompleted({ requestId: 'req-single-new' })]),
      'batch-with-old',
    );
    await waitUntil(
      async () => (Object.keys(await rowsOf(['req-single-old', 'req-single-new'])).length === 2 ? true : undefined),
      10_000,
      'both rows',
    );
    await sleep(500);
    expect(await rowsOf(['req-single-old', 'req-single-new'])).toEqual({ 'req-single-old': 1, 'req-single-new': 1 });
  });
});
