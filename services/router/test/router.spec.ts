import { JSONCodec, NatsConnection } from 'nats';
import { MessageBus } from '@maas/nats';
import { Subjects, WorkerRegistered } from '@maas/contracts';
import { createTestDatabase, startService, StartedService, TestDatabase, testNamespace, testNats, testNatsUrl } from '@maas/testing';

const registration = (id: string): WorkerRegistered => ({
  workerId: id,
  url: 'http://127.0.0.1:9/',
  hardware: 'cpu',
  capacity: 2,
  vmId: 'vm-test',
  runtime: { kind: 'sim-engine' },
  models: [{ id: 'Qwen/Qwen2.5-3B-Instruct', capabilities: ['chat'] }],
  sentAt: new Date().toISOString(),
});

describe('router against real NATS and PostgreSQL', () => {
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let router: StartedService;
  const namespace = testNamespace();

  beforeAll(async () => {
    db = await createTestDatabase('router');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    router = await startService('router', {
      DATABASE_URL: db.url,
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      WORKER_EXPIRY_MS: '1500ms',
    });
  });

  afterAll(async () => {
    await router?.stop();
    await nc?.close();
    await db?.drop();
  });

  it('rejects a malformed registration, keeps running, and accepts the next valid one', async () => {
    const subject = new Subjects(namespace).subject('worker.registered', 'w-bad');
    nc.publish(subject, new TextEncoder().encode('{"workerId": 42'));
    nc.publish(subject, JSONCodec().encode({ workerId: 'w-bad', url: 'ftp://nope' }));
    bus.publish('worker.registered', registration('w-1'));
    await router.waitFor((r) => r.msg === 'worker registered' && r.workerId === 'w-1', 10_000);
    const rejections = router.records().filter((r) => r.msg === 'rejected malformed message');
    expect(rejections).toHaveLength(2);
    expect(String(rejections[0].error)).toMatch(/not JSON/);
    expect(String(rejections[1].error)).toMatch(/required property 'models'/);

    const snapshot = await bus.request('router.list-workers', {});
    expect(snapshot.workers.map((w) => w.registration.workerId)).toEqual(['w-1']);
  });

  it('answers a malformed command with a service error instead of crashing', async () => {
    const reply = await nc.request(new Subjects(namespace).subject('router.list-workers'), new TextEncoder().encode('[]'), {
      timeout: 2000,
    });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(JSON.parse(new TextDecoder().decode(reply.data)).error.code).toBe('invalid_message');
  });

  it('expires a silent worker and announces it', async () => {
    const announced = new Promise<string>((resolve) => {
      const sub = nc.subscribe(new Subjects(namespace).subject('worker.deregistered'), {
        callback: (_e, m) => {
          const msg = JSONCodec<{ workerId: string; reason: string }>().decode(m.data);
          if (msg.workerId === 'w-2') {
            sub.unsubscribe();
            resolve(msg.reason);
          }
        },
      });
    });
    const started = Date.now();
    bus.publish('worker.registered', registration('w-2'));
    await expect(announced).resolves.toBe('expired');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(5000);
    const snapshot = await bus.request('router.list-workers', {});
    expect(snapshot.workers.map((w) => w.registration.workerId)).not.toContain('w-2');
  });

  it('stores a storm of re-announcements as one row per worker, its latest state, and counts them at scrape', async () => {
    const storm = Array.from({ length: 300 }, (_, i) => `storm-${i}`);
    for (const id of storm) bus.publish('worker.registered', registration(id));
    // the last word of the first worker arrives within the storm: a re-announcement, draining
    bus.publish('worker.registered', { ...registration('storm-0'), state: 'draining' });
    const deadline = Date.now() + 10_000;
    let rows: { worker_id: string; state: string }[] = [];
    while (Date.now() < deadline) {
      rows = await db.query(`SELECT worker_id, state FROM workers WHERE worker_id LIKE 'storm-%'`);
      if (rows.length === storm.length && rows.find((r) => r.worker_id === 'storm-0')?.state === 'draining') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows.map((r) => r.worker_id).sort()).toEqual([...storm].sort());
    expect(rows.find((r) => r.worker_id === 'storm-0')?.state).toBe('draining');
    const metrics = await fetch(`${router.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/maas_router_workers\{state="draining"\} 1\n/);
    expect(Number(/maas_router_workers\{state="ready"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(storm.length - 1);
  });

  it('serves /health with NATS and database up, and /metrics', async () => {
    const health = await fetch(`${router.url}/health`).then((r) => r.json());
    expect(health).toMatchObject({ status: 'ok', info: { nats: { status: 'up' }, database: { status: 'up' } } });
    const metrics = await fetch(`${router.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/maas_messages_received_total\{message="worker.registered",outcome="rejected"[^}]*\} 2/);
  });
});
