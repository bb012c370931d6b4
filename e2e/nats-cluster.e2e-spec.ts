import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterNode, PrivateNatsCluster, startNatsCluster, startService, StartedService } from '@maas/testing';
import { chatBody, MODEL, sleep, Stack, waitUntil } from '../services/gateway/test/support/stack';
import { zeroReplicaSpec } from './support/scaling-spec';

/**
 * The platform on a 3-node NATS cluster (deploy/nats/cluster.conf, routes over TLS) with every stream
 * and bucket on three replicas: the server leading the usage stream is SIGKILLed under steady load,
 * and every successful request is still in the ledger exactly once. Then, the server back, the one
 * leading the SCALING stream is SIGKILLed while the vm-scaler decides every second, and every decision
 * and event in its outbox is in the stream exactly once.
 */
const RATE = 10;
const BEFORE_MS = 4000;
const AFTER_MS = 8000;
/** The vm-scaler keeps deciding this long after the SCALING stream's leader is killed. */
const SCALING_AFTER_MS = 8000;
/** …and at least this long after the stream has its new leader. */
const ON_NEW_LEADER_MS = 4000;

/** One simulated node of MODEL at least, booting in a second or two: node events as well as decisions. */
const scalingSpec = (() => {
  const spec = zeroReplicaSpec(2);
  return { ...spec, models: { [MODEL]: { ...spec.models[MODEL], minReplicas: 1 } } };
})();

describe('NATS cluster: one of three servers killed under load', () => {
  let cluster: PrivateNatsCluster;
  let stack: Stack;
  let collector: StartedService;
  let scaler: StartedService;
  let key: string;
  /** Servers a test killed, started again by the next one. */
  const killed: ClusterNode[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-nats-cluster-scaling-'));

  beforeAll(async () => {
    // Every process of the test (services inherit it) keeps streams and buckets on all three servers.
    process.env.MAAS_JS_REPLICAS = '3';
    cluster = await startNatsCluster();
    stack = new Stack({}, cluster.seedList);
    await stack.start();
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(scalingSpec));
    [collector, scaler] = await Promise.all([
      startService('metrics-collector', stack.env),
      startService('vm-scaler', {
        ...stack.env,
        SCALING_PROVIDER: 'simulated',
        SCALING_SIMULATED: JSON.stringify({ bootSeconds: { min: 1, max: 2 } }),
        SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
        SCALING_TICK_MS: '1s',
        SCALING_METRIC_MAX_AGE_MS: '5s',
      }),
    ]);
    await scaler.waitFor((r) => r.msg === 'scaling loop started', 30_000, 'the scaling loop');
    await stack.startWorker();
    // A key with limits: admission also goes through the shared limits bucket.
    key = (await stack.createKey({ limits: { requestsPerMinute: 100_000, maxConcurrent: 1000 } })).secret;
  }, 180_000);

  afterAll(async () => {
    try {
      await Promise.all([collector?.stop(), scaler?.stop()]);
      await stack?.stop();
    } finally {
      await cluster?.stop();
      delete process.env.MAAS_JS_REPLICAS;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps every usage event exactly once and the services serving through the loss of the usage stream's leader", async () => {
    const jsm = await stack.nc.jetstreamManager();
    const usage = stack.subjects.stream('usage');
    const before = await jsm.streams.info(usage);
    expect(before.config.num_replicas).toBe(3);
    expect(before.cluster?.replicas?.length).toBe(2);

    const results = new Map<string, { status: number; sentAt: number }>();
    const started = Date.now();
    const total = Math.round(((BEFORE_MS + AFTER_MS) / 1000) * RATE);
    let killedAt = 0;
    const load = (async () => {
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const due = started + (i * 1000) / RATE;
        if (due > Date.now()) await sleep(due - Date.now());
        const id = `cluster-${i}`;
        const sentAt = Date.now();
        inFlight.push(
          stack.post('/v1/chat/completions', key, chatBody({ stream: i % 2 === 0, max_tokens: 4 }), { 'x-request-id': id }).then(
            async (res) => {
              await res.arrayBuffer();
              results.set(id, { status: res.status, sentAt });
            },
            () => results.set(id, { status: 0, sentAt }) && undefined,
          ),
        );
      }
      await Promise.all(inFlight);
    })();

    await sleep(BEFORE_MS);
    const leader = (await jsm.streams.info(usage)).cluster?.leader;
    const victim = cluster.nodes.find((n) => n.name === leader);
    expect(victim).toBeDefined();
    killedAt = Date.now();
    killed.push(victim!);
    await victim!.kill();
    await load;

    // A new leader from the two left, and the stream still on its three-replica config.
    const after = await waitUntil(
      async () => {
        const info = await jsm.streams.info(usage).catch(() => undefined);
        return info?.cluster?.leader && info.cluster.leader !== leader ? info : undefined;
      },
      30_000,
      'a new leader of the usage stream',
    );

    // The gateway made the shared limits bucket at the key's first request, on three servers too.
    const limitsBucket = await jsm.streams.info(`KV_${stack.bus.bucketName('key-limits')}`);
    expect(limitsBucket.config.num_replicas).toBe(3);

    const ok = [...results].filter(([, r]) => r.status === 200).map(([id]) => id);
    const failed = [...results].filter(([, r]) => r.status !== 200);
    const ledger = () =>
      stack.db.query<{ request_id: string; n: number }>(
        'SELECT client_request_id AS request_id, count(*)::int AS n FROM usage_records WHERE client_request_id LIKE $1 GROUP BY client_request_id',
        ['cluster-%'],
      );
    // Up to 90 s for the ledger to catch up; whatever is missing then is reported below.
    await waitUntil(async () => (await ledger()).length >= ok.length, 90_000, 'every successful request in the ledger').catch(
      () => undefined,
    );
    const rows = await ledger();
    const complaints = [stack.gateway, collector].flatMap((p) => p.records()).filter((r) => r.level === 'warn' || r.level === 'error');
    const inLedger = new Set(rows.map((r) => r.request_id));
    const missing = ok.filter((id) => !inLedger.has(id));
    const extra = rows.filter((r) => !ok.includes(r.request_id)).map((r) => r.request_id);
    const duplicates = rows.reduce((n, r) => n + r.n - 1, 0);
    const afterKill = ok.filter((id) => results.get(id)!.sentAt > killedAt + 1000);

    console.log(
      [
        `nats-cluster: killed ${leader} (usage stream leader) ${((killedAt - started) / 1000).toFixed(1)} s into ${total} requests at ${RATE}/s; new leader ${after.cluster?.leader}`,
        `  requests  succeeded ${ok.length} (${afterKill.length} sent after the kill), failed ${failed.length}`,
        `  ledger    rows ${rows.length}, missing ${missing.length}, not successful ${extra.length}, duplicates ${duplicates}`,
        ...complaints.slice(-10).map((r) => `  ${r.service} ${r.level}: ${r.msg} ${r.error ?? ''}`),
      ].join('\n'),
    );
    // The services still answer on the bus after the loss: a key is made and verified, usage recorded.
    const late = (await stack.createKey({ name: 'after-the-loss' })).secret;
    const res = await stack.post('/v1/chat/completions', late, chatBody({ max_tokens: 2 }), { 'x-request-id': 'cluster-late' });
    expect(res.status).toBe(200);
    await waitUntil(
      async () => (await stack.db.query('SELECT 1 FROM usage_records WHERE client_request_id = $1', ['cluster-late'])).length === 1,
      60_000,
      'the late request in the ledger',
    );

    expect(failed).toEqual([]);
    expect(afterKill.length).toBeGreaterThan(RATE * 3);
    expect(missing).toEqual([]);
    expect(extra).toEqual([]);
    expect(duplicates).toBe(0);
  }, 240_000);

  it("keeps every scaling decision and event exactly once in the SCALING stream through the loss of that stream's leader", async () => {
    const jsm = await stack.nc.jetstreamManager();
    const scaling = stack.subjects.stream('scaling');
    const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const whole = (info: Awaited<ReturnType<typeof jsm.streams.info>> | undefined) =>
      info?.cluster?.leader && info.cluster.replicas?.length === 2 && info.cluster.replicas.every((r) => r.current && !r.offline);
    // The server an earlier test killed rejoins first: one more loss then still leaves two of three.
    for (const node of killed.splice(0)) await node.restart();
    const before = await waitUntil(
      async () => {
        const info = await jsm.streams.info(scaling).catch(() => undefined);
        return whole(info) ? info : undefined;
      },
      60_000,
      'the SCALING stream on three current servers',
    );
    expect(before.config.num_replicas).toBe(3);
    // Decisions on the whole cluster before the kill.
    await sleep(3000);

    // Asked with a short timeout, so that when the new leader is seen says when it was elected.
    const probe = await stack.nc.jetstreamManager({ timeout: 1000 });
    const leader = before.cluster!.leader;
    const victim = cluster.nodes.find((n) => n.name === leader);
    expect(victim).toBeDefined();
    const killedAt = Date.now();
    killed.push(victim!);
    await victim!.kill();
    const after = await waitUntil(
      async () => {
        const info = await probe.streams.info(scaling).catch(() => undefined);
        return info?.cluster?.leader && info.cluster.leader !== leader ? info : undefined;
      },
      30_000,
      'a new leader of the SCALING stream',
    );
    const newLeaderAt = Date.now();
    // Deciding goes on a while after the kill, and a few seconds on the new leader too.
    await sleep(Math.max(0, killedAt + SCALING_AFTER_MS - Date.now(), newLeaderAt + ON_NEW_LEADER_MS - Date.now()));

    // The cut: what the vm-scaler stored up to now must reach the stream; it goes on deciding meanwhile.
    const cut = new Date();
    await sleep(1500); // a decision taken before the cut is stored a moment later, off the tick
    const unpublished = () =>
      stack.db.query<{ n: number }>('SELECT count(*)::int AS n FROM event_outbox WHERE created_at <= $1 AND published_at IS NULL', [cut]);
    await waitUntil(async () => (await unpublished())[0].n === 0, 30_000, 'the outbox published up to the cut').catch(() => undefined);

    const decisions = await stack.db.query<{ decision_id: string; decided_at: Date }>(
      'SELECT decision_id, decided_at FROM scaling_decisions WHERE decided_at <= $1',
      [cut],
    );
    const outbox = await stack.db.query<{ message_id: string; name: string; published_at: Date | null; unpublishable: string | null }>(
      'SELECT message_id, name, published_at, unpublishable FROM event_outbox WHERE created_at <= $1',
      [cut],
    );
    const info = await jsm.streams.info(scaling);
    const decidedInStream = new Map<string, number>();
    const idsInStream = new Map<string, number>();
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(scaling, { seq });
      const id = m.header?.get('Nats-Msg-Id') ?? '';
      idsInStream.set(id, (idsInStream.get(id) ?? 0) + 1);
      if (m.subject !== stack.subjects.subject('scaling.decided')) continue;
      const decisionId = (JSON.parse(new TextDecoder().decode(m.data)) as { decisionId: string }).decisionId;
      decidedInStream.set(decisionId, (decidedInStream.get(decisionId) ?? 0) + 1);
    }
    const decisionsBefore = decisions.filter((d) => d.decided_at.getTime() <= killedAt).length;
    const decisionsAfter = decisions.length - decisionsBefore;
    const decisionsOnNewLeader = decisions.filter((d) => d.decided_at.getTime() > newLeaderAt).length;
    const decisionsInStream = decisions.length - decisions.filter((d) => !decidedInStream.has(d.decision_id)).length;
    const decisionsMissing = decisions.filter((d) => !decidedInStream.has(d.decision_id)).map((d) => d.decision_id);
    const decisionsDuplicated = [...decidedInStream].filter(([, n]) => n > 1).map(([id]) => id);
    const eventsMissing = outbox.filter((e) => !idsInStream.has(e.message_id)).map((e) => `${e.name} ${e.message_id}`);
    const eventsDuplicated = [...idsInStream].filter(([, n]) => n > 1).map(([id]) => id);
    const unpublishable = outbox.filter((e) => e.unpublishable !== null);
    const kinds = [...new Set(outbox.map((e) => e.name))].sort();
    const complaints = scaler.records().filter((r) => r.level === 'warn' || r.level === 'error');
    const caughtUp = scaler
      .records()
      .find((r) => r.msg === 'scaling events caught up with JetStream' && Date.parse(String(r.ts)) >= killedAt);
    const held = caughtUp ? `held ${(Number(caughtUp.waitedMs) / 1000).toFixed(1)} s, then caught up` : 'never held';

    console.log(
      [
        `nats-cluster: killed ${leader} (SCALING stream leader); new leader ${after.cluster?.leader} seen ${seconds(newLeaderAt - killedAt)} later; cut ${seconds(cut.getTime() - killedAt)} after the kill`,
        `  decisions stored to the cut ${decisions.length} (${decisionsBefore} before the kill, ${decisionsAfter} after, ${decisionsOnNewLeader} on the new leader), in the stream ${decisionsInStream}, missing ${decisionsMissing.length}, duplicates ${decisionsDuplicated.length}`,
        `  outbox    events to the cut ${outbox.length} (${kinds.join(', ')}), missing in the stream ${eventsMissing.length}, duplicates ${eventsDuplicated.length}, unpublishable ${unpublishable.length}; ${held}`,
        ...complaints.slice(-10).map((r) => `  ${r.service} ${r.level}: ${r.msg} ${r.error ?? r.reason ?? ''}`),
      ].join('\n'),
    );

    expect(decisionsAfter).toBeGreaterThan(0);
    expect(decisionsOnNewLeader).toBeGreaterThan(0);
    expect(decisionsMissing).toEqual([]);
    expect(decisionsDuplicated).toEqual([]);
    expect(eventsMissing).toEqual([]);
    expect(eventsDuplicated).toEqual([]);
    expect(unpublishable).toEqual([]);
  }, 120_000);
});
