import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JSONCodec, NatsConnection } from 'nats';
import { Subjects, WorkerRegistered } from '@maas/contracts';
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

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One simulated-A100 worker process per 10 req/s, released 2 s after demand goes. */
const spec = {
  replicas: { stableWindowSeconds: 3, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [{ name: 'a100-qwen2.5-3b', accelerator: 'gpu', costPerHour: 1, bootSeconds: 5, slots: { [MODEL]: 1 }, maxCount: 3 }],
    maxVms: 3,
    bootMarginSeconds: 0,
    forecastBand: 'off',
    scaleDownDelaySeconds: 2,
    scaleDownHysteresis: 0,
    minDrainSeconds: 1,
  },
  models: {
    [MODEL]: { metric: 'rps', replicaRequestsPerSecond: 10, targetUtilization: 1, maxUtilization: 1, minReplicas: 0, maxReplicas: 3 },
  },
};

describe('vm-scaler with the local provider: real worker processes', () => {
  const namespace = testNamespace();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-local-nodes-'));
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let svc: StartedService | undefined;
  const seen: { name: string; at: number; body: Record<string, unknown> }[] = [];

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const rows = (sql: string, params: unknown[] = []) => db.query<any>(sql, params);
  async function holdDemand<T>(
    requestRate: number,
    done: () => T | undefined | Promise<T | undefined>,
    ms: number,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      bus.publish(
        'metric.aggregated',
        factory.metricAggregated({
          model: MODEL,
          intervalStart: new Date(Date.now() - 1000).toISOString(),
          intervalSeconds: 1,
          requestRate,
          concurrency: requestRate,
          readyWorkers: 0,
        }),
      );
      const value = await done();
      if (value !== undefined && value !== null && value !== false) return value;
      await sleep(300);
    }
    const logs = fs.readdirSync(dir).map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-8).join('\n')}`);
    throw new Error(`${what} within ${ms} ms\n${logs.join('\n')}\n--- vm-scaler\n${svc?.lines.slice(-20).join('\n')}`);
  }
  const readyWorkers = () => {
    const left = new Set(seen.filter((e) => e.name === 'worker.deregistered').map((e) => e.body.workerId));
    const ready = new Map<string, WorkerRegistered>();
    for (const e of seen)
      if (e.name === 'worker.registered' && (e.body.state ?? 'ready') === 'ready' && !left.has(e.body.workerId))
        ready.set(String(e.body.workerId), e.body as unknown as WorkerRegistered);
    return [...ready.values()];
  };

  beforeAll(async () => {
    db = await createTestDatabase('vmlocal');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    const subjects = new Subjects(namespace);
    for (const name of ['worker.registered', 'worker.draining', 'worker.deregistered'] as const) {
      nc.subscribe(subjects.subject(name), {
        callback: (_e, m) => seen.push({ name, at: Date.now(), body: JSONCodec<Record<string, unknown>>().decode(m.data) }),
      });
    }
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
    svc = await startService('vm-scaler', {
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      DATABASE_URL: db.url,
      SCALING_PROVIDER: 'local',
      SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
      SCALING_TICK_MS: '500ms',
      SCALING_METRIC_MAX_AGE_MS: '3s',
      SCALING_LOG_DIR: dir,
      SCALING_BOOT_TIMEOUT_MS: '90s',
      SCALING_STOP_GRACE_MS: '5m',
    });
  });

  afterAll(async () => {
    await svc?.stop();
    if (nc) await deleteStreams(nc, namespace);
    await nc?.close();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts worker processes as demand rises; drains them as it falls, none killed while busy', async () => {
    // 25 req/s: three replicas, each a `maas worker` process with its own vmId
    const workers = await holdDemand(
      25,
      () => (readyWorkers().length >= 3 ? readyWorkers() : undefined),
      120_000,
      'three workers did not register ready',
    );
    expect(workers.map((w) => w.vmId).sort()).toEqual(workers.map((w) => w.workerId).sort());
    for (const w of workers) expect(w.vmId).toMatch(/^local-[0-9a-z]+-\d{3}$/);
    expect((await rows("SELECT count(*)::int AS n FROM vms WHERE state = 'ready'"))[0].n).toBe(3);

    // one worker is busy with a long answer when demand goes
    const busy = workers[0];
    const response = fetch(`${busy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Write at length.' }], max_tokens: 5000, ignore_eos: true }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { usage?: { completion_tokens: number } }, at: Date.now() }));
    await sleep(500);

    await holdDemand(
      0,
      async () => ((await rows("SELECT count(*)::int AS n FROM vms WHERE state = 'stopped'"))[0].n === 3 ? true : undefined),
      120_000,
      'the three nodes did not stop',
    );
    const done = await response;
    expect(done.status).toBe(200);
    expect(done.body.usage?.completion_tokens).toBe(5000);

    // every worker drained and said goodbye; the busy one only after its answer was complete
    for (const w of workers) {
      expect(seen.some((e) => e.name === 'worker.draining' && e.body.workerId === w.workerId)).toBe(true);
      expect(seen.some((e) => e.name === 'worker.deregistered' && e.body.workerId === w.workerId)).toBe(true);
    }
    const busyDraining = seen.find((e) => e.name === 'worker.draining' && e.body.workerId === busy.workerId)!;
    expect(busyDraining.body.inFlight).toBeGreaterThanOrEqual(1);
    const busyGone = seen.find((e) => e.name === 'worker.deregistered' && e.body.workerId === busy.workerId)!;
    expect(busyGone.at).toBeGreaterThanOrEqual(done.at - 50);
    // no process was killed: each exited by itself after its drain
    const nodes = await rows('SELECT vm_id, reason FROM vms ORDER BY vm_id');
    expect(nodes.map((n) => n.reason)).toEqual(['worker exited with code 0', 'worker exited with code 0', 'worker exited with code 0']);
    // and the scaler never asked to stop a node that reported requests in flight
    const stops = await rows(`SELECT inputs, decision FROM scaling_decisions WHERE jsonb_array_length(decision->'capacity'->'stops') > 0`);
    for (const s of stops) {
      for (const stop of s.decision.capacity.stops as { vmId: string }[]) {
        const vm = (s.inputs.observation.vms as { id: string; inFlight: number | null }[]).find((v) => v.id === stop.vmId)!;
        expect(vm.inFlight).toBe(0);
      }
    }
  });
});
