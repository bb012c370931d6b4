import { JSONCodec, NatsConnection } from 'nats';
import { Client } from 'pg';
import { MetricAggregated, Subjects } from '@maas/contracts';
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

describe('metrics-collector against real NATS and PostgreSQL', () => {
  const namespace = testNamespace();
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

  beforeAll(async () => {
    db = await createTestDatabase('metrics');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    svc = await startService('metrics-collector', env());
  });

  afterAll(async () => {
    await svc?.stop();
    await deleteStreams(nc, namespace);
    await nc?.close();
    await db?.drop();
  });

  const rows = async (sql: string) => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };

  it('records each request once, however often it is delivered, and publishes per-model aggregates', async () => {
    const model = 'openai/gpt-oss-20b';
    const aggregates: MetricAggregated[] = [];
    nc.subscribe(new Subjects(namespace).subject('metric.aggregated'), {
      callback: (_e, m) => aggregates.push(JSONCodec<MetricAggregated>().decode(m.data)),
    });
    bus.publish(
      'worker.registered',
      factory.workerRegistered({ workerId: 'w-m', models: [{ id: model, capabilities: ['chat'] }], capacity: 8 }),
    );
    const usage = [1, 2, 3].map((i) =>
      factory.requestCompleted({ requestId: `req-${i}`, model, promptTokens: 100 * i, completionTokens: 10 }),
    );
    for (const u of usage) await bus.persist('usage.request-completed', u, u.requestId);
    // The same event again under another de-duplication id: only the ledger's key stops it.
    await bus.persist('usage.request-completed', usage[0], 'redelivery-1');

    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && aggregates.reduce((s, a) => s + a.requestRate * a.intervalSeconds, 0) < 3) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const served = aggregates.filter((a) => a.model === model);
    expect(served.reduce((s, a) => s + a.requestRate * a.intervalSeconds, 0)).toBeCloseTo(3);
    expect(served.reduce((s, a) => s + (a.inputTokensPerSecond ?? 0) * a.intervalSeconds, 0)).toBeCloseTo(600);
    expect(served.every((a) => a.readyWorkers === 1 && a.capacityPerWorker === 8)).toBe(true);
    expect(await rows('SELECT count(*)::int AS n FROM usage_records')).toEqual([{ n: 3 }]);
    expect((await rows('SELECT count(*)::int AS n FROM metric_samples WHERE resolution_seconds = 1'))[0].n).toBeGreaterThan(0);

    const metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(
      /maas_requests_total\{model="openai\/gpt-oss-20b",endpoint="chat.completions",kind="interactive",status="200"[^}]*\} 3/,
    );
    expect(metrics).toMatch(/maas_model_ready_workers\{model="openai\/gpt-oss-20b"[^}]*\} 1/);
    expect(metrics).toMatch(/maas_tokens_total\{model="openai\/gpt-oss-20b",direction="input",kind="interactive"[^}]*\} 600/);
    // Rates and percentiles are Prometheus's to compute from counters and histograms, not precomputed gauges.
    expect(metrics).not.toMatch(/maas_model_(request_rate|ttft_p\d+_seconds|concurrency|errors)\b/);
  });

  it('keeps usage published while it was down and loses none across a restart', async () => {
    await svc.stop();
    const u = factory.requestCompleted({ requestId: 'req-while-down' });
    await bus.persist('usage.request-completed', u, u.requestId);
    svc = await startService('metrics-collector', env());
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await rows("SELECT 1 FROM usage_records WHERE request_id = 'req-while-down'")).length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await rows("SELECT request_id FROM usage_records WHERE request_id = 'req-while-down'")).toHaveLength(1);
    expect(await rows('SELECT count(*)::int AS n FROM usage_records')).toEqual([{ n: 4 }]);
  });

  it('counts a model no worker served under one bounded label', async () => {
    const invented = ['made-up/one', 'made-up/two'].map((model, i) =>
      factory.requestCompleted({
        requestId: `req-invented-${i}`,
        model,
        workerId: null,
        status: 404,
        errorCode: 'model_not_found',
        promptTokens: 0,
        completionTokens: 0,
      }),
    );
    for (const u of invented) await bus.persist('usage.request-completed', u, u.requestId);
    const other = /maas_requests_total\{model="other",endpoint="chat.completions",kind="interactive",status="404"[^}]*\} (\d+)/;
    let metrics = '';
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && other.exec(metrics)?.[1] !== '2') {
      await new Promise((r) => setTimeout(r, 100));
      metrics = await fetch(`${svc.url}/metrics`).then((r) => r.text());
    }
    expect(other.exec(metrics)?.[1]).toBe('2');
    expect(metrics).not.toContain('made-up');
  });
});
