import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NatsConnection } from 'nats';
import { Client } from 'pg';
import { MessageName, ScalingDecisionListReply, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { projectRoot } from '@maas/platform';
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

/** Short windows so that a ramp plays out in seconds; one replica per 10 req/s. */
const spec = (replicaRequestsPerSecond: number) => ({
  replicas: { stableWindowSeconds: 4, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [{ name: 'sim-gpu', accelerator: 'gpu', costPerHour: 2, bootSeconds: 1, slots: { [MODEL]: 1 }, maxCount: null }],
    maxVms: 10,
    bootMarginSeconds: 0,
    forecastBand: 'upper',
    scaleDownDelaySeconds: 3,
    scaleDownHysteresis: 0,
    minDrainSeconds: 0.5,
  },
  models: {
    [MODEL]: { metric: 'rps', replicaRequestsPerSecond, targetUtilization: 1, maxUtilization: 1, minReplicas: 0, maxReplicas: 10 },
  },
});

/** `maas scaling …` as an operator runs it. */
function maas(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(projectRoot(), 'bin', 'maas.js'), 'scaling', ...args],
      { env: { ...process.env, ...env }, timeout: 60_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

describe('vm-scaler loop with the simulated provider', () => {
  const namespace = testNamespace();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vm-scaler-test-'));
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;
  let svc: StartedService | undefined;
  let from: string;
  let to: string;
  const natsEnv = () => ({ NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace });
  const scalerEnv = () => ({
    ...natsEnv(),
    DATABASE_URL: db.url,
    SCALING_PROVIDER: 'simulated',
    SCALING_SIMULATED: JSON.stringify({ bootSeconds: { min: 0.5, max: 1 }, failureProbability: 0 }),
    SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
    SCALING_TICK_MS: '300ms',
    SCALING_METRIC_MAX_AGE_MS: '3s',
  });

  const rows = async (sql: string, params: unknown[] = []) => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows;
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase('vmscaler');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec(10)));
    fs.writeFileSync(path.join(dir, 'other.json'), JSON.stringify(spec(5)));
  });

  afterAll(async () => {
    await svc?.stop();
    await deleteStreams(nc, namespace);
    await nc?.close();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts nodes as demand ramps up, drains and stops them as it falls, recording every decision with its inputs', async () => {
    // before the start: its first tick may decide before the start-up line is read
    from = new Date().toISOString();
    svc = await startService('vm-scaler', scalerEnv());
    await svc.waitFor((r) => r.msg === 'scaling loop started', 10_000);

    // a forecast that expects a little demand soon: recorded with the decisions it informs
    const t0 = Date.now();
    bus.publish(
      'forecast.published',
      factory.forecastPublished({
        model: MODEL,
        stepSeconds: 2,
        method: 'test-persistence',
        points: [1, 2].map((k) => ({ at: new Date(t0 + k * 2000).toISOString(), requestRate: 5, upper: 8 })),
      }),
    );
    // request rate: up to 30 req/s, held, then nothing
    const ramp = [0, 10, 20, 30, 30, 30, 30, 0];
    for (let step = 0; step < ramp.length * 6; step += 1) {
      const rate = ramp[Math.floor(step / 6)];
      bus.publish(
        'metric.aggregated',
        factory.metricAggregated({
          model: MODEL,
          intervalStart: new Date(Date.now() - 1000).toISOString(),
          intervalSeconds: 1,
          requestRate: rate,
          concurrency: rate / 4,
          readyWorkers: 0,
        }),
      );
      await sleep(250);
    }
    // then the collector keeps reporting an idle model until every node has gone
    const deadline = Date.now() + 40_000;
    let states: { state: string }[] = [];
    while (Date.now() < deadline) {
      bus.publish(
        'metric.aggregated',
        factory.metricAggregated({
          model: MODEL,
          intervalStart: new Date(Date.now() - 1000).toISOString(),
          intervalSeconds: 1,
          requestRate: 0,
          concurrency: 0,
          readyWorkers: 0,
        }),
      );
      states = await rows('SELECT state FROM vms');
      if (states.length >= 3 && states.every((s) => s.state === 'stopped')) break;
      await sleep(250);
    }
    expect(states.length).toBeGreaterThanOrEqual(3);
    expect(states.every((s) => s.state === 'stopped')).toBe(true);
    await sleep(500);
    await svc.stop();
    svc = undefined;
    to = new Date().toISOString();

    const decisions = await rows('SELECT decision_id, stage, inputs, decision, reasons FROM scaling_decisions ORDER BY decided_at');
    const starts = decisions.filter((d) => d.decision.capacity.starts.length > 0);
    const drains = decisions.filter((d) => d.decision.capacity.drains.length > 0);
    const stops = decisions.filter((d) => d.decision.capacity.stops.length > 0);
    expect(
      starts.reduce((n, d) => n + d.decision.capacity.starts.reduce((m: number, s: { count: number }) => m + s.count, 0), 0),
    ).toBeGreaterThanOrEqual(3);
    expect(drains.length).toBeGreaterThan(0);
    expect(stops.length).toBeGreaterThan(0);
    for (const d of decisions) {
      expect(d.stage).toBe('vms');
      expect(Object.keys(d.inputs).sort()).toEqual(['now', 'observation', 'sources', 'spec', 'state']);
      expect(d.inputs.spec.models[MODEL].replicaRequestsPerSecond).toBe(10);
      expect(d.reasons.length).toBeGreaterThan(0);
    }
    expect(decisions.some((d) => d.inputs.observation.forecasts?.[MODEL]?.valid)).toBe(true);
    expect(starts[0].reasons.join('\n')).toMatch(/request rate|forecast/);
    // a node is stopped only after it drained, never with requests in flight
    const drained = new Set(drains.flatMap((d) => d.decision.capacity.drains.map((x: { vmId: string }) => x.vmId)));
    for (const d of stops) {
      for (const s of d.decision.capacity.stops as { vmId: string }[]) {
        const vm = (d.inputs.observation.vms as { id: string; state: string; inFlight: number | null }[]).find((v) => v.id === s.vmId)!;
        if (vm.state === 'draining') {
          expect(drained.has(s.vmId)).toBe(true);
          expect(vm.inFlight).toBe(0);
        }
      }
    }

    // the same decisions, with the same inputs, are on the stream, next to actions and node changes
    const counts = new Map<MessageName, number>();
    const onStream: Record<string, unknown>[] = [];
    const subjects = new Subjects(namespace);
    const consumer = await nc.jetstream().consumers.get(subjects.stream('scaling'));
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
      let got = 0;
      for await (const m of batch) {
        got += 1;
        const name = subjects.nameOf(m.subject)!;
        counts.set(name, (counts.get(name) ?? 0) + 1);
        if (name === 'scaling.decided') onStream.push(JSON.parse(Buffer.from(m.data).toString('utf8')));
        if (m.info.pending === 0) got = -1;
      }
      if (got <= 0) break;
    }
    expect(counts.get('scaling.decided')).toBe(decisions.length);
    expect(onStream.find((d) => d.decisionId === starts[0].decision_id)).toMatchObject({
      inputs: starts[0].inputs,
      decision: starts[0].decision,
    });
    expect(counts.get('scaling.action-started')).toBe(counts.get('scaling.action-completed'));
    expect(counts.get('scaling.action-failed') ?? 0).toBe(0);
    expect(counts.get('vm.state-changed')).toBeGreaterThanOrEqual(3 * 4); // booting, ready, draining, stopped each
  });

  it("replays the window to the identical decisions, from the stream and from the vm-scaler's records over NATS", async () => {
    const total = (await rows('SELECT count(*)::int AS n FROM scaling_decisions'))[0].n;
    const stream = await maas(['replay', '--from', from, '--to', to], natsEnv());
    expect(stream.stderr).toBe('');
    expect(stream.code).toBe(0);
    const lines = stream.stdout.trimEnd().split('\n');
    expect(lines[lines.length - 1]).toBe(`${total} decisions replayed: all identical`);
    expect(lines.filter((l) => / sd-\S+ .*identical$/.test(l))).toHaveLength(total);

    // --db: the vm-scaler answers from its table; the command has no database address.
    const stopped = await maas(['replay', '--db', '--from', from, '--to', to], natsEnv());
    expect(stopped.code).toBe(1);
    expect(stopped.stderr.trim()).toBe(`maas scaling: vm-scaler is not answering on NATS (namespace ${namespace}): no responders`);
    svc = await startService('vm-scaler', scalerEnv());
    try {
      const fromDb = await maas(['replay', '--db', '--from', from, '--to', to, '--brief'], {
        ...natsEnv(),
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      });
      expect(fromDb.stderr).toBe('');
      expect(fromDb.code).toBe(0);
      expect(fromDb.stdout.trimEnd().split('\n').pop()).toBe(`${total} decisions replayed: all identical`);
      const full = await maas(['replay', '--db', '--from', from, '--to', to], natsEnv());
      expect(full.stdout).toBe(stream.stdout);

      const [first] = await rows('SELECT decision_id FROM scaling_decisions ORDER BY decided_at LIMIT 1');
      const explained = await maas(['explain', '--db', first.decision_id], natsEnv());
      expect(explained.code).toBe(0);
      expect(explained.stdout).toContain(`decision ${first.decision_id}`);
      expect(explained.stdout).toContain('replayed: identical');
    } finally {
      await svc.stop();
      svc = undefined;
    }
  });

  it('pages the recorded decisions over NATS (vm-scaler.list-decisions): in order, by model, and refuses a forged cursor', async () => {
    svc = await startService('vm-scaler', scalerEnv());
    try {
      const expected = (
        await rows('SELECT decision_id FROM scaling_decisions WHERE decided_at BETWEEN $1 AND $2 ORDER BY decided_at, decision_id', [
          from,
          to,
        ])
      ).map((r) => r.decision_id);
      expect(expected.length).toBeGreaterThan(7);
      const pageThrough = async (extra: { model?: string } = {}) => {
        const ids: string[] = [];
        const sizes: number[] = [];
        let cursor: string | null = null;
        do {
          const page: ScalingDecisionListReply = await bus.request('vm-scaler.list-decisions', {
            since: from,
            until: to,
            limit: 7,
            ...extra,
            ...(cursor ? { cursor } : {}),
          });
          ids.push(...page.decisions.map((d) => d.decisionId));
          sizes.push(page.decisions.length);
          cursor = page.nextCursor;
        } while (cursor);
        return { ids, sizes };
      };
      const all = await pageThrough();
      expect(all.ids).toEqual(expected);
      expect(all.sizes.slice(0, -1).every((n) => n === 7)).toBe(true);
      expect((await pageThrough({ model: MODEL })).ids).toEqual(expected);
      expect((await pageThrough({ model: 'openai/gpt-oss-20b' })).ids).toEqual([]);

      const [one] = (await bus.request('vm-scaler.list-decisions', { since: from, until: to, limit: 1 })).decisions;
      expect(one).toEqual({
        ...(
          await rows('SELECT inputs, decision, reasons, stage, model FROM scaling_decisions WHERE decision_id = $1', [one.decisionId])
        )[0],
        decisionId: one.decisionId,
        decidedAt: one.decidedAt,
      });
      await expect(
        bus.request('vm-scaler.list-decisions', { since: from, until: to, cursor: Buffer.from('["yesterday","x"]').toString('base64url') }),
      ).rejects.toThrow(/cursor .* is not one vm-scaler.list-decisions gave out/);
      await expect(bus.request('vm-scaler.list-decisions', { since: from, until: to, limit: 501 } as never)).rejects.toThrow(/limit/);

      // Pages stay well under NATS's payload limit (1 MiB): three 300 kB decisions come one per page. They are recent
      // (the vm-scaler's retention sweep would delete old ones mid-test) and of a model of their own.
      const bigAt = Date.now() - 3_600_000;
      const big = ['a', 'b', 'c'].map((x) => `sd-${new Date(bigAt).toISOString()}-big${x}`);
      for (const [i, id] of big.entries()) {
        await rows(
          `INSERT INTO scaling_decisions (decision_id, stage, model, decided_at, inputs, decision, reasons) VALUES ($1, 'vms', 'paging/big-decisions', $2, '{}', $3, $4)`,
          [
            id,
            new Date(bigAt + i * 1000),
            JSON.stringify({ replicas: {}, capacity: { starts: [], drains: [], stops: [], models: {} } }),
            JSON.stringify(['x'.repeat(300_000)]),
          ],
        );
      }
      try {
        const sizes: number[] = [];
        let cursor: string | null = null;
        do {
          const raw = await nc.request(
            new Subjects(namespace).subject('vm-scaler.list-decisions'),
            new TextEncoder().encode(
              JSON.stringify({
                since: new Date(bigAt - 1000).toISOString(),
                until: new Date(bigAt + 10_000).toISOString(),
                model: 'paging/big-decisions',
                limit: 10,
                ...(cursor ? { cursor } : {}),
              }),
            ),
          );
          expect(raw.data.length).toBeLessThan(1024 * 1024);
          const page = JSON.parse(new TextDecoder().decode(raw.data)) as ScalingDecisionListReply;
          sizes.push(page.decisions.length);
          cursor = page.nextCursor;
        } while (cursor);
        expect(sizes).toEqual([1, 1, 1]);
      } finally {
        await rows('DELETE FROM scaling_decisions WHERE decision_id = ANY($1)', [big]);
      }
    } finally {
      await svc.stop();
      svc = undefined;
    }
  });

  it('shows what another spec would have decided', async () => {
    const other = await maas(['replay', '--from', from, '--to', to, '--spec', path.join(dir, 'other.json')], natsEnv());
    expect(other.code).toBe(0);
    expect(other.stdout).toMatch(/decisions replayed: \d+ differ with .*other\.json/);
    expect(other.stdout).toMatch(/replicas\["Qwen\/Qwen2\.5-3B-Instruct"\]\.desiredReplicas: \d+ → \d+/);
    expect(other.stdout).toMatch(/capacity\.starts: /);
  });

  it('explains a decision with its inputs and reasons, and lists the timeline', async () => {
    const [first] = await rows(
      `SELECT decision_id FROM scaling_decisions WHERE jsonb_array_length(decision->'capacity'->'starts') > 0 ORDER BY decided_at LIMIT 1`,
    );
    const explained = await maas(['explain', first.decision_id], natsEnv());
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain(`decision ${first.decision_id}`);
    expect(explained.stdout).toMatch(/Qwen\/Qwen2\.5-3B-Instruct: request rate \d+/);
    expect(explained.stdout).toMatch(/start-vm completed {2}sim-/);
    expect(explained.stdout).toContain('replayed: identical');

    const events = await maas(['events', '--since', '10m'], natsEnv());
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/decision {2}sd-\S+ {2}start 1 × sim-gpu/);
    expect(events.stdout).toMatch(/node {6}sim-\S+ {2}booting → ready/);
    expect(events.stdout).toMatch(/node {6}sim-\S+ {2}draining → stopped/);
    expect(events.stdout).toMatch(/action {4}drain-vm completed/);

    const otherModel = await maas(['events', '--since', '10m', '--model', 'openai/gpt-oss-20b'], natsEnv());
    expect(otherModel.stdout.trim()).toBe(
      'no scaling events since ' +
        otherModel.stdout.trim().slice('no scaling events since '.length, 'no scaling events since '.length + 23) +
        ' for openai/gpt-oss-20b',
    );
    const ours = await maas(['events', '--since', '10m', '--model', MODEL], natsEnv());
    expect(ours.stdout).toBe(events.stdout);

    const missing = await maas(['explain', 'sd-20200101T000000.000Z-dead'], natsEnv());
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});
