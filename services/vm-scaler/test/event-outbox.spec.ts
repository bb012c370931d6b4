import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, NatsConnection } from 'nats';
import { Client } from 'pg';
import { Subjects } from '@maas/contracts';
import {
  createTestDatabase,
  PrivateNatsServer,
  startPrivateNatsServer,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
} from '@maas/testing';

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const spec = {
  replicas: { stableWindowSeconds: 4, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [{ name: 'sim-gpu', accelerator: 'gpu', costPerHour: 2, bootSeconds: 1, slots: { [MODEL]: 1 }, maxCount: null }],
    maxVms: 4,
    bootMarginSeconds: 0,
    forecastBand: 'upper',
    scaleDownDelaySeconds: 3,
    scaleDownHysteresis: 0,
    minDrainSeconds: 0.5,
  },
  models: {
    [MODEL]: { metric: 'rps', replicaRequestsPerSecond: 10, targetUtilization: 1, maxUtilization: 1, minReplicas: 0, maxReplicas: 4 },
  },
};

/**
 * The vm-scaler's outbox against a real NATS that is SIGKILLed and restarted: decisions taken while
 * JetStream was away stay in PostgreSQL's outbox and reach the SCALING stream once it is back, each
 * once, so the stream and `scaling_decisions` hold the same decisions.
 */
describe('vm-scaler event outbox across a NATS crash', () => {
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-scaler-outbox-'));
  let nats: PrivateNatsServer;
  let db: TestDatabase;
  let svc: StartedService | undefined;
  let nc: NatsConnection | undefined;

  const rows = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  };

  /** The SCALING stream in stream order: each message's subject and payload. */
  const streamMessages = async (): Promise<{ subject: string; body: Record<string, unknown> }[]> => {
    nc ??= await connect({ servers: nats.url, name: 'outbox-test' });
    const jsm = await nc.jetstreamManager();
    const name = subjects.stream('scaling');
    const info = await jsm.streams.info(name);
    const out: { subject: string; body: Record<string, unknown> }[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(name, { seq });
      out.push({ subject: m.subject, body: JSON.parse(new TextDecoder().decode(m.data)) as Record<string, unknown> });
    }
    return out;
  };

  beforeAll(async () => {
    [nats, db] = await Promise.all([startPrivateNatsServer(), createTestDatabase('outbox')]);
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
  });

  afterAll(async () => {
    await svc?.stop();
    await nc?.close();
    await Promise.all([nats?.stop(), db?.drop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('publishes the decisions of the outage after it, once each: the stream and the table agree', async () => {
    svc = await startService('vm-scaler', {
      NATS_URL: nats.url,
      MAAS_NAMESPACE: namespace,
      DATABASE_URL: db.url,
      SCALING_PROVIDER: 'simulated',
      SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
      SCALING_TICK_MS: '300ms',
    });
    await svc.waitFor((r) => r.msg === 'scaling loop started', 20_000, 'the scaling loop');
    const count = async () => (await rows<{ n: number }>('SELECT count(*)::int AS n FROM scaling_decisions'))[0].n;
    const deadline = Date.now() + 20_000;
    while ((await count()) < 3 && Date.now() < deadline) await sleep(200);
    const before = await count();
    expect(before).toBeGreaterThanOrEqual(3);

    const killedAt = new Date();
    await nats.kill();
    await svc.waitFor(
      (r) => r.msg === 'scaling events held in the outbox until JetStream acknowledges them',
      20_000,
      'the outbox holding events',
    );
    const health = await fetch(`${svc.url}/health`);
    expect(health.status).toBe(503); // the vm-scaler decides from NATS inputs and acts through NATS workers: it cannot do its job
    // A backlog of several publishing batches, in the order it was stored...
    const backlog = Array.from({ length: 250 }, (_, k) => ({
      messageId: `outbox-test-${String(k).padStart(3, '0')}`,
      payload: {
        vmId: `outbox-test-node-${k % 7}`,
        provider: 'simulated',
        vmType: 'sim-gpu',
        model: MODEL,
        from: 'booting',
        to: 'ready',
        reason: `backlog ${k}`,
        at: new Date().toISOString(),
      },
    }));
    for (const e of backlog)
      await rows("INSERT INTO event_outbox (message_id, name, payload) VALUES ($1, 'vm.state-changed', $2)", [
        e.messageId,
        JSON.stringify(e.payload),
      ]);
    // ...and decisions JetStream had acknowledged whose marks were lost: published again, stored once (their message ids)
    const republished = await rows<{ message_id: string }>(
      `UPDATE event_outbox SET published_at = NULL WHERE message_id IN
         (SELECT message_id FROM event_outbox WHERE name = 'scaling.decided' AND published_at IS NOT NULL ORDER BY seq LIMIT 3)
       RETURNING message_id`,
    );
    expect(republished).toHaveLength(3);
    await sleep(3000);
    await nats.restart();
    const restartedAt = new Date();
    await svc.waitFor((r) => r.msg === 'scaling events caught up with JetStream', 30_000, 'the outbox catching up');

    const during = await rows<{ decision_id: string }>(
      'SELECT decision_id FROM scaling_decisions WHERE decided_at > $1 AND decided_at < $2',
      [killedAt, restartedAt],
    );
    expect(during.length).toBeGreaterThan(0);

    // Stop deciding, then compare everything.
    await svc.stop();
    svc = undefined;
    const table = (await rows<{ decision_id: string }>('SELECT decision_id FROM scaling_decisions')).map((r) => r.decision_id);
    const pending = await rows<{ message_id: string }>('SELECT message_id FROM event_outbox WHERE published_at IS NULL');
    const messages = await streamMessages();
    const stream = new Map<string, number>();
    const decidedInOrder: string[] = [];
    for (const m of messages) {
      if (m.subject !== subjects.subject('scaling.decided')) continue;
      const id = m.body.decisionId as string;
      if (!stream.has(id)) decidedInOrder.push(id);
      stream.set(id, (stream.get(id) ?? 0) + 1);
    }
    console.log(
      `outbox across a NATS crash: ${table.length} decisions (${during.length} during the outage), ${stream.size} in the stream, ${pending.length} pending`,
    );
    expect(pending).toEqual([]);
    expect(table.filter((id) => !stream.has(id))).toEqual([]);
    expect([...stream.keys()].filter((id) => !table.includes(id))).toEqual([]);
    expect([...stream.values()].filter((n) => n !== 1)).toEqual([]);
    // in the stream in the order they were decided (decision ids sort by time)
    expect(decidedInOrder).toEqual([...decidedInOrder].sort());
    expect(decidedInOrder.length).toBe(table.length);
    // the backlog: every event once, in the order stored, though published in batches
    const backlogInStream = messages.filter((m) => String(m.body.vmId).startsWith('outbox-test-node-')).map((m) => m.body.reason);
    expect(backlogInStream).toEqual(backlog.map((e) => e.payload.reason));
  }, 120_000);
});
