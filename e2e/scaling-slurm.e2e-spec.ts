import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JSONCodec, NatsConnection } from 'nats';
import { Subjects, WorkerDeregistered, WorkerDraining, WorkerRegistered } from '@maas/contracts';
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
import { slurmUnavailable, startSlurm, StartedSlurm } from './support/slurm';

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unavailable = slurmUnavailable();

/** One replica per 10 req/s on a simulated 16-core CPU node; released 2 s after demand goes. */
const spec = {
  replicas: { stableWindowSeconds: 3, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [{ name: 'cpu16-qwen2.5-3b', accelerator: 'cpu', costPerHour: 1, bootSeconds: 5, slots: { [MODEL]: 1 }, maxCount: 2 }],
    maxVms: 2,
    bootMarginSeconds: 0,
    forecastBand: 'off',
    scaleDownDelaySeconds: 2,
    scaleDownHysteresis: 0,
    minDrainSeconds: 1,
  },
  models: {
    [MODEL]: { metric: 'rps', replicaRequestsPerSecond: 10, targetUtilization: 1, maxUtilization: 1, minReplicas: 0, maxReplicas: 2 },
  },
};

// scripts/install-system-packages.sh installs Slurm; a machine without it fails here rather than skipping silently.
describe('vm-scaler with the Slurm provider on a real slurmctld/slurmd', () => {
  it('has a Slurm to run against', () => {
    expect(unavailable ?? 'available').toBe('available');
  });

  const namespace = testNamespace();
  let slurm: StartedSlurm;
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let svc: StartedService | undefined;
  const seen: { name: string; at: number; body: Record<string, unknown> }[] = [];

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const rows = (sql: string, params: unknown[] = []) => db.query<any>(sql, params);
  const squeue = () => execFileSync('squeue', ['-h', '-o', '%i %j %T'], { env: { ...process.env, ...slurm.env }, encoding: 'utf8' }).trim();
  const demand = (requestRate: number) =>
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
  /** Keeps reporting `requestRate` until `done` holds (or fails after `ms`). */
  async function holdDemand<T>(
    requestRate: number,
    done: () => T | undefined | Promise<T | undefined>,
    ms: number,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      demand(requestRate);
      const value = await done();
      if (value !== undefined && value !== null && value !== false) return value;
      await sleep(300);
    }
    const logs = fs.readdirSync(path.join(slurm.dir, 'jobs')).map(
      (f) =>
        `--- ${f}\n${fs
          .readFileSync(path.join(slurm.dir, 'jobs', f), 'utf8')
          .split('\n')
          .slice(-10)
          .join('\n')}`,
    );
    throw new Error(
      `${what} within ${ms} ms\nsqueue: ${squeue()}\n${logs.join('\n')}\n${slurm.log()}\n--- vm-scaler\n${svc?.lines.slice(-20).join('\n')}`,
    );
  }

  beforeAll(async () => {
    slurm = await startSlurm();
    db = await createTestDatabase('vmslurm');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    const subjects = new Subjects(namespace);
    for (const name of ['worker.registered', 'worker.draining', 'worker.deregistered'] as const) {
      nc.subscribe(subjects.subject(name), {
        callback: (_e, m) => seen.push({ name, at: Date.now(), body: JSONCodec<Record<string, unknown>>().decode(m.data) }),
      });
    }
    fs.writeFileSync(path.join(slurm.dir, 'spec.json'), JSON.stringify(spec));
    svc = await startService('vm-scaler', {
      NATS_URL: testNatsUrl(),
      MAAS_NAMESPACE: namespace,
      DATABASE_URL: db.url,
      ...slurm.env,
      SCALING_PROVIDER: 'slurm',
      SCALING_SPEC_FILE: path.join(slurm.dir, 'spec.json'),
      SCALING_TICK_MS: '500ms',
      SCALING_SLURM_POLL_MS: '500ms',
      SCALING_METRIC_MAX_AGE_MS: '3s',
      SCALING_LOG_DIR: path.join(slurm.dir, 'jobs'),
      SCALING_BOOT_TIMEOUT_MS: '90s',
    });
  });

  afterAll(async () => {
    await svc?.stop();
    await slurm?.stop();
    if (nc) await deleteStreams(nc, namespace);
    await nc?.close();
    await db?.drop();
  });

  it('starts a worker as a Slurm job that registers over NATS, then drains it with scancel and lets its last request finish', async () => {
    // 5 req/s: one replica
    const registered = await holdDemand(
      5,
      () =>
        seen.find(
          (e) => e.name === 'worker.registered' && /^slurm-\d+$/.test(String(e.body.vmId)) && (e.body.state ?? 'ready') === 'ready',
        ),
      90_000,
      'no worker registered ready from a Slurm job',
    );
    const reg = registered.body as unknown as WorkerRegistered;
    const jobId = reg.vmId.replace('slurm-', '');
    expect(reg.workerId).toBe(reg.vmId);
    expect(reg.models.map((m) => m.id)).toEqual([MODEL]);
    expect(squeue()).toMatch(new RegExp(`^${jobId} maas-worker RUNNING$`, 'm'));
    // The job got an allow-listed environment: what a worker needs, not the scaler's database URL.
    const workerPid = fs.readdirSync('/proc').find(
      (p) =>
        /^\d+$/.test(p) &&
        (() => {
          try {
            // job ids restart at 1 in each test's Slurm: another suite's worker may bear the same id
            const ours = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`MAAS_NAMESPACE=${namespace}`);
            return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(reg.vmId) && ours;
          } catch {
            return false;
          }
        })(),
    );
    expect(workerPid).toBeDefined();
    const jobEnv = Object.fromEntries(
      fs
        .readFileSync(`/proc/${workerPid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    expect(jobEnv).not.toHaveProperty('DATABASE_URL');
    expect(jobEnv).toMatchObject({ NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace });
    await holdDemand(
      5,
      async () => (await rows("SELECT 1 FROM vms WHERE vm_id = $1 AND state = 'ready'", [reg.vmId])).length > 0,
      10_000,
      'the node is not ready in the vms table',
    );

    // a long request on the worker's runtime when demand goes: the drain must let it finish
    const response = fetch(`${reg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: 'Summarise the paper.' }],
        max_tokens: 2000,
        ignore_eos: true,
      }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { usage?: { completion_tokens: number } }, at: Date.now() }));
    await sleep(300);

    const deregistered = await holdDemand(
      0,
      () => seen.find((e) => e.name === 'worker.deregistered' && e.body.workerId === reg.workerId),
      60_000,
      'the worker did not deregister after demand went',
    );
    const draining = seen.find((e) => e.name === 'worker.draining' && e.body.workerId === reg.workerId);
    expect(draining).toBeDefined();
    expect((draining!.body as unknown as WorkerDraining).inFlight).toBeGreaterThanOrEqual(1);
    expect((deregistered.body as unknown as WorkerDeregistered).reason).toBe('shutdown');
    const done = await response;
    expect(done.status).toBe(200);
    expect(done.body.usage?.completion_tokens).toBe(2000);
    expect(deregistered.at).toBeGreaterThanOrEqual(done.at - 50);

    // the job ends by itself; the scaler sees it leave the queue and records the node stopped
    await holdDemand(
      0,
      async () => (await rows("SELECT 1 FROM vms WHERE vm_id = $1 AND state = 'stopped'", [reg.vmId])).length > 0,
      20_000,
      'the node is not stopped in the vms table',
    );
    expect(squeue()).not.toMatch(new RegExp(`^${jobId} `, 'm'));
    const [drain] = await rows(`SELECT decision_id, reasons FROM scaling_decisions WHERE decision->'capacity'->'drains' @> $1::jsonb`, [
      JSON.stringify([{ vmId: reg.vmId }]),
    ]);
    expect(drain.reasons.join('\n')).toContain(`drain ${reg.vmId}`);
    const states = (await rows('SELECT state, reason FROM vms WHERE vm_id = $1', [reg.vmId]))[0];
    expect(states.reason).toMatch(/job \d+ ended/);
    const log = fs.readFileSync(path.join(slurm.dir, 'jobs', `maas-worker-${jobId}.log`), 'utf8');
    expect(log).toMatch(/"msg":"drained"/);
  });
});
