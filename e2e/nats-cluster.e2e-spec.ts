import { PrivateNatsCluster, startNatsCluster, startService, StartedService } from '@maas/testing';
import { chatBody, sleep, Stack, waitUntil } from '../services/gateway/test/support/stack';

/**
 * The platform on a 3-node NATS cluster (deploy/nats/cluster.conf, routes over TLS) with every stream
 * and bucket on three replicas: the server leading the usage stream is SIGKILLed under steady load,
 * and every successful request is still in the ledger exactly once.
 */
const RATE = 10;
const BEFORE_MS = 4000;
const AFTER_MS = 8000;

describe('NATS cluster: one of three servers killed under load', () => {
  let cluster: PrivateNatsCluster;
  let stack: Stack;
  let collector: StartedService;
  let key: string;

  beforeAll(async () => {
    // Every process of the test (services inherit it) keeps streams and buckets on all three servers.
    process.env.MAAS_JS_REPLICAS = '3';
    cluster = await startNatsCluster();
    stack = new Stack({}, cluster.seedList);
    await stack.start();
    collector = await startService('metrics-collector', stack.env);
    await stack.startWorker();
    // A key with limits: admission also goes through the shared limits bucket.
    key = (await stack.createKey({ limits: { requestsPerMinute: 100_000, maxConcurrent: 1000 } })).secret;
  }, 180_000);

  afterAll(async () => {
    await collector?.stop();
    await stack?.stop();
    await cluster?.stop();
    delete process.env.MAAS_JS_REPLICAS;
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
});
