import { JSONCodec, NatsConnection } from 'nats';
import { INVALID_MODEL, MetricAggregated, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  deleteStreams,
  factory,
  startNode,
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

describe('metrics-collector: events the ledger refuses, and events with unusable model names', () => {
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
  const maas = async (...args: string[]) => {
    const proc = startNode('bin/maas.js', env(), args);
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
    return { code, output: proc.lines.join('\n') };
  };

  beforeAll(async () => {
    db = await createTestDatabase('deadletters');
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

  it('sets aside an event the database refuses for good, counts and logs it, and redrives it after a fix', async () => {
    // 3,000,000,000 prompt tokens: valid JSON and schema, but out of range for the ledger's int column (22003).
    const huge = factory.requestCompleted({ requestId: 'req-huge', promptTokens: 3_000_000_000 });
    // A request id with NUL: no PostgreSQL text column stores it (22021), whatever is fixed.
    const nul = factory.requestCompleted({ requestId: 'req-\u0000-nul' });
    const fine = factory.requestCompleted({ requestId: 'req-fine' });
    for (const u of [huge, nul, fine]) await bus.persist('usage.request-completed', u, u.requestId.replace(/\u0000/g, '0'));

    const letters = await waitUntil(
      async () => {
        const reply = await bus.request('metrics-collector.list-dead-letters', {});
        // The list and the count are two reads: wait until both show the two (a letter may land between them).
        return reply.total === 2 && reply.deadLetters.length === 2 ? reply : undefined;
      },
      15_000,
      'two dead letters',
    );
    expect(letters.deadLetters.map((d) => [d.requestId, d.reason.slice(0, 5)]).sort()).toEqual([
      ['req-\\0-nul', '22021'],
      ['req-huge', '22003'],
    ]);
    expect(letters.deadLetters.find((d) => d.requestId === 'req-huge')!.event).toEqual(huge);
    expect(await db.query("SELECT request_id FROM usage_records WHERE request_id = 'req-fine'")).toHaveLength(1);
    const logged = svc.records().filter((r) => r.msg === 'usage event dead-lettered: the ledger refuses it');
    expect(logged.map((r) => r.level)).toEqual(['error', 'error']);
    const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^maas_usage_dead_letters_total 2$/m);
    // Set aside, not retried: the stream consumer has nothing left pending.
    const jsm = await nc.jetstreamManager();
    await waitUntil(
      async () => ((await jsm.consumers.info(subjects.stream('usage'), 'metrics-collector')).num_ack_pending === 0 ? true : undefined),
      10_000,
      'nothing pending',
    );

    const before = await maas('usage', 'dead-letters');
    expect(before.code).toBe(0);
    expect(before.output).toContain('req-huge');
    expect(before.output).toContain('2 dead-lettered usage events');

    // The fix: the ledger column takes 64-bit counts. The NUL request id stays unstorable.
    await db.query('ALTER TABLE usage_records ALTER COLUMN prompt_tokens TYPE bigint');
    const redriven = await maas('usage', 'redrive');
    expect(redriven.output).toContain('1 redriven into the ledger, 1 refused again, 1 dead letters left');
    expect(redriven.code).toBe(1);
    expect(await db.query("SELECT prompt_tokens::text AS p FROM usage_records WHERE request_id = 'req-huge'")).toEqual([
      { p: '3000000000' },
    ]);
    const left = await db.query<{ request_id: string; deliveries: number }>('SELECT request_id, deliveries FROM usage_dead_letters');
    expect(left).toEqual([{ request_id: 'req-\\0-nul', deliveries: 2 }]);
    expect(await maas('usage', 'redrive', 'req-huge')).toMatchObject({ code: 0 }); // nothing left of it: a no-op
  });

  it('records unusable model names as <invalid>, counts no demand for them, and keeps aggregating the real models', async () => {
    const model = 'Qwen/Qwen2.5-3B-Instruct';
    const aggregates: MetricAggregated[] = [];
    nc.subscribe(subjects.subject('metric.aggregated'), {
      callback: (_e, m) => aggregates.push(JSONCodec<MetricAggregated>().decode(m.data)),
    });
    bus.publish(
      'worker.registered',
      factory.workerRegistered({ workerId: 'w-agg', models: [{ id: model, capabilities: ['chat'] }], capacity: 8 }),
    );
    const bad = [
      factory.requestCompleted({ requestId: 'req-empty-model', model: '', status: 400, errorCode: 'invalid_json', workerId: null }),
      factory.requestCompleted({ requestId: 'req-nul-model', model: 'q\u0000', status: 404, errorCode: 'model_not_found', workerId: null }),
      factory.requestCompleted({
        requestId: 'req-made-up',
        model: 'made-up-model',
        status: 404,
        errorCode: 'model_not_found',
        workerId: null,
      }),
    ];
    for (const u of bad) await bus.persist('usage.request-completed', u, u.requestId);
    const rows = await waitUntil(
      async () => {
        const r = await db.query<{ request_id: string; model: string }>(
          "SELECT request_id, model FROM usage_records WHERE request_id IN ('req-empty-model', 'req-nul-model', 'req-made-up') ORDER BY request_id",
        );
        return r.length === 3 ? r : undefined;
      },
      10_000,
      'the three records',
    );
    expect(rows).toEqual([
      { request_id: 'req-empty-model', model: INVALID_MODEL },
      { request_id: 'req-made-up', model: 'made-up-model' },
      { request_id: 'req-nul-model', model: INVALID_MODEL },
    ]);

    const mark = aggregates.length;
    const good = factory.requestCompleted({ requestId: 'req-after-bad', model });
    await bus.persist('usage.request-completed', good, good.requestId);
    await waitUntil(
      async () => (aggregates.slice(mark).some((a) => a.model === model && a.requestRate > 0) ? true : undefined),
      10_000,
      'the real model aggregated',
    );
    await sleep(2500);
    const fresh = aggregates.slice(mark);
    expect(new Set(fresh.map((a) => a.model))).toEqual(new Set([model])); // no series for '', NUL or invented names
    expect(fresh.filter((a) => a.model === model).length).toBeGreaterThanOrEqual(2); // and it keeps coming, every interval
    expect(svc.records().filter((r) => r.msg === 'aggregation failed' || r.msg === 'aggregate not published')).toEqual([]);
  });
});
