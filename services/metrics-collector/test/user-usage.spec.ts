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

/** auth's portal asks the ledger for a user's usage per day (metrics-collector.user-usage) instead of reading usage_records. */
describe('metrics-collector: a user usage per day over NATS', () => {
  const namespace = testNamespace();
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let svc: StartedService;

  beforeAll(async () => {
    db = await createTestDatabase('userusage');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    svc = await startService('metrics-collector', { DATABASE_URL: db.url, NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace });
  });

  afterAll(async () => {
    await svc?.stop();
    await deleteStreams(nc, namespace);
    await nc?.close();
    await db?.drop();
  });

  const at = (iso: string) => ({ startedAt: iso, finishedAt: iso });

  it('counts requests and tokens per day in the asked time zone and kind, with what a service key did for the user', async () => {
    const events: RequestCompleted[] = [
      // 2026-03-01 23:30 in Tokyo, 14:30 UTC
      factory.requestCompleted({ userId: 'ada@example.ac.jp', promptTokens: 100, completionTokens: 10, ...at('2026-03-01T14:30:00Z') }),
      // 2026-03-02 00:30 in Tokyo: the next day there, the same day in UTC
      factory.requestCompleted({ userId: 'ada@example.ac.jp', promptTokens: 200, completionTokens: 20, ...at('2026-03-01T15:30:00Z') }),
      factory.requestCompleted({
        userId: 'ada@example.ac.jp',
        kind: 'batch',
        promptTokens: 1000,
        completionTokens: 1,
        ...at('2026-03-01T16:00:00Z'),
      }),
      // Open WebUI's trusted key, on Ada's behalf
      factory.requestCompleted({
        userId: 'webui@service',
        endUser: 'ada@example.ac.jp',
        promptTokens: 5,
        completionTokens: 5,
        ...at('2026-03-01T16:10:00Z'),
      }),
      factory.requestCompleted({ userId: 'grace@example.ac.jp', promptTokens: 99_999, completionTokens: 1, ...at('2026-03-01T16:00:00Z') }),
      // before `since`
      factory.requestCompleted({ userId: 'ada@example.ac.jp', promptTokens: 7, completionTokens: 7, ...at('2026-02-20T00:00:00Z') }),
    ];
    await bus.persist('usage.requests-completed', { records: events.map((event) => ({ event })) }, 'user-usage-1');
    for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const [{ n }] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM usage_records');
      if (n === events.length) break;
      if (Date.now() > deadline) throw new Error(`ledger holds ${n} of ${events.length} records`);
    }

    const ask = (timeZone: string) =>
      bus.request('metrics-collector.user-usage', { userEmail: 'ada@example.ac.jp', since: '2026-03-01T00:00:00Z', timeZone });
    expect(await ask('Asia/Tokyo')).toEqual({
      userEmail: 'ada@example.ac.jp',
      days: [
        { day: '2026-03-01', kind: 'interactive', requests: 1, promptTokens: 100, completionTokens: 10 },
        { day: '2026-03-02', kind: 'batch', requests: 1, promptTokens: 1000, completionTokens: 1 },
        { day: '2026-03-02', kind: 'interactive', requests: 2, promptTokens: 205, completionTokens: 25 },
      ],
    });
    expect((await ask('UTC')).days).toEqual([
      { day: '2026-03-01', kind: 'batch', requests: 1, promptTokens: 1000, completionTokens: 1 },
      { day: '2026-03-01', kind: 'interactive', requests: 3, promptTokens: 305, completionTokens: 35 },
    ]);
    expect(
      (
        await bus.request('metrics-collector.user-usage', {
          userEmail: 'nobody@example.ac.jp',
          since: '2026-01-01T00:00:00Z',
          timeZone: 'UTC',
        })
      ).days,
    ).toEqual([]);
  });

  it('refuses a time zone that is not one, and a request that breaks the schema, naming what is wrong', async () => {
    await expect(
      bus.request('metrics-collector.user-usage', {
        userEmail: 'ada@example.ac.jp',
        since: '2026-03-01T00:00:00Z',
        timeZone: 'Mars/Olympus',
      }),
    ).rejects.toThrow(/timeZone "Mars\/Olympus" is not an IANA time zone/);
    const raw = await nc.request(
      new Subjects(namespace).subject('metrics-collector.user-usage'),
      new TextEncoder().encode('{"userEmail":"a"}'),
    );
    expect(raw.headers?.get('Nats-Service-Error-Code')).toBe('400');
  });
});
