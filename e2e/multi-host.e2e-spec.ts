import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, ConnectionOptions, NatsConnection, nkeyAuthenticator } from 'nats';
import OpenAI, { toFile } from 'openai';
import { Subjects } from '@maas/contracts';
import { inboxPrefixFor, MessageBus, NatsCredentialStore } from '@maas/nats';
import { createTestDatabase, startNode, startService, StartedProcess, StartedService, TestDatabase, testNamespace } from '@maas/testing';
import { Host, HostNetwork, TcpForward } from './support/netns';

/**
 * Drill on several hosts of one machine (network namespaces on a private bridge, e2e/support/netns.ts):
 * a 3-node NATS cluster (JetStream, 3 replicas) on nats-1..3; router, key-registry, metrics-collector
 * and a gateway on each of gateway-a and gateway-b, with NATS_URL the seed list of the three nodes;
 * one simulated-engine worker on each of workers-1 and workers-2. Steady load goes through both
 * gateways with the OpenAI SDK from outside the hosts while (a) one NATS node is killed, (b) gateway-b's
 * link is cut for 10 s, (c) the workers-2 host is killed. Then: every successful request is billed
 * exactly once, what failed was in flight on a lost part, revocation reaches both gateways within 1 s.
 * Before the drill, a batch uploaded through gateway A completes and downloads through gateway B, and a
 * 60 requests/min key offered 3 req/s at each gateway for 20 s is admitted 55–60 times, not 120; just after
 * the NATS node is lost, a file uploaded through A reads back through B (503 + Retry-After at most, never 500).
 * The ledger is matched on the client's X-Request-Id (client_request_id), so a request billed twice would
 * show as two rows.
 * NATS is secured as a site runs it: the credential store (libs/nats) makes the cluster's configs (a
 * certificate per node naming its address, routes over mutual TLS with the route password, the same nkey
 * users on every node); every service signs in with its own nkey and the CA, each worker host with a
 * worker credential of its own, the test itself as cli-admin. An anonymous connection to any node is
 * refused. MAAS_DRILL=full runs longer phases.
 */
const FULL = process.env.MAAS_DRILL === 'full';
const PHASE_MS = {
  baseline: FULL ? 20_000 : 6000,
  natsDown: FULL ? 30_000 : 10_000,
  cut: 10_000,
  afterCut: FULL ? 20_000 : 6000,
  workersDown: FULL ? 30_000 : 8000,
};
/** Requests a second sent to each gateway. */
const RATE_PER_GATEWAY = 3;
const REQUEST_TIMEOUT_MS = 12_000;
/** After the link is back, a gateway gets this long before its requests must succeed again. */
const RECOVERY_MS = 3000;
const RPM = 60;
const RPM_OFFER_PER_GATEWAY = 3;
const RPM_WINDOW_MS = 20_000;
const BATCH_LINES = 10;
const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const PROFILE = 'a100-qwen2.5-3b';
const HOSTS = ['nats-1', 'nats-2', 'nats-3', 'gateway-a', 'gateway-b', 'workers-1', 'workers-2'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

function startNatsNode(host: Host, configFile: string): Promise<ChildProcess> {
  const child = spawn(host.prefix[0], [...host.prefix.slice(1), 'nats-server', '-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server on ${host.name} not ready within 20 s:\n${log}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server on ${host.name} exited with ${code}:\n${log}`));
    });
  });
}

type Outcome = 'ok' | 'rate-limited' | 'failed';
interface Sent {
  id: string;
  gateway: 'a' | 'b';
  sentAt: number;
  endedAt: number;
  outcome: Outcome;
  error?: string;
}

/** One chat request through the SDK; success means a complete answer (a finish reason), streamed or not. */
async function send(client: OpenAI, id: string, stream: boolean): Promise<Pick<Sent, 'outcome' | 'error'>> {
  const options = { headers: { 'x-request-id': id }, timeout: REQUEST_TIMEOUT_MS, maxRetries: 0 };
  const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'Say hello.' }], max_tokens: 8 };
  try {
    let finish: string | null | undefined;
    if (stream) {
      for await (const chunk of await client.chat.completions.create({ ...body, stream: true }, options))
        finish = chunk.choices[0]?.finish_reason ?? finish;
    } else {
      finish = (await client.chat.completions.create(body, options)).choices[0]?.finish_reason;
    }
    return finish ? { outcome: 'ok' } : { outcome: 'failed', error: 'answer ended without a finish reason' };
  } catch (err) {
    if (err instanceof OpenAI.RateLimitError) return { outcome: 'rate-limited' };
    const e = err as Error;
    return { outcome: 'failed', error: `${e.constructor.name}: ${e.message}`.slice(0, 160) };
  }
}

describe('multi-host drill: NATS cluster, two gateways, two worker hosts on separate network namespaces', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-multi-host-'));
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  let network: HostNetwork;
  let db: TestDatabase;
  let pg: TcpForward;
  let nc: NatsConnection;
  let bus: MessageBus;
  const services: StartedProcess[] = [];
  const gateways: Record<'a' | 'b', StartedService> = {} as never;
  let env: Record<string, string>;
  let store: NatsCredentialStore;
  let natsHosts: Host[];
  /** The environment that signs a process in as `identity`: its own seed and the CA; never the insecure opt-out. */
  const as = (identity: string) => ({ ...env, ...store.envFor(identity) });

  beforeAll(async () => {
    network = await HostNetwork.create([...HOSTS]);
    natsHosts = (['nats-1', 'nats-2', 'nats-3'] as const).map((n) => network.host(n));
    store = new NatsCredentialStore(path.join(dir, 'nats'));
    store.initialise({
      host: '0.0.0.0',
      port: 4222,
      storeDir: path.join(dir, 'jetstream'),
      namespace,
      cluster: { name: 'maas-drill', routePort: 6222, nodes: natsHosts.map((h) => ({ name: h.name, host: h.address })) },
    });
    for (const name of ['workers-1', 'workers-2']) store.issueWorker(name);
    await Promise.all(natsHosts.map((h) => startNatsNode(h, store.configFileOf(h.name))));
    const natsUrl = natsHosts.map((h) => `nats://${h.address}:4222`).join(',');
    const admin = store.envFor('cli-admin');
    nc = await connect({
      servers: natsUrl.split(','),
      name: 'multi-host-drill',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(admin.NATS_NKEY, 'utf8').trim())),
      inboxPrefix: inboxPrefixFor(NatsCredentialStore.publicKeyOf(admin.NATS_NKEY)),
      tls: { caFile: admin.NATS_CA },
    });
    bus = new MessageBus(nc, subjects);
    await waitUntil(async () => (await nc.jetstreamManager()).getAccountInfo(), 30_000, 'the JetStream cluster electing its meta leader');

    db = await createTestDatabase('multihost');
    pg = await new TcpForward(network.outside, '127.0.0.1', Number(new URL(db.url).port || 5432)).start();
    const hostsDb = new URL(db.url);
    hostsDb.hostname = network.outside;
    hostsDb.port = String(pg.port);
    env = {
      NATS_URL: natsUrl,
      MAAS_NAMESPACE: namespace,
      // Set to 1 for the whole test run (jest's global setup): off here, so a service without credentials fails.
      MAAS_NATS_INSECURE: '0',
      MAAS_JS_REPLICAS: '3',
      DATABASE_URL: hostsDb.toString(),
      KEY_HASH_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'info',
    };
    // One host after the other: both run the same database migrations.
    for (const side of ['a', 'b'] as const) {
      const host = network.host(`gateway-${side}`);
      const on = { prefix: host.prefix };
      // The router first: it creates the replicated streams the others then find (several creating them at once on a new cluster time out).
      services.push(await startService('router', as('router'), on));
      services.push(
        ...(await Promise.all([
          startService('key-registry', as('key-registry'), on),
          startService('metrics-collector', as('metrics-collector'), on),
        ])),
      );
      gateways[side] = await startService(
        'gateway',
        {
          ...as('gateway'),
          HOST: host.address,
          GATEWAY_USAGE_SPOOL_DIR: path.join(dir, `spool-${side}`),
          GATEWAY_FILE_STORE_DIR: path.join(dir, `files-${side}`),
          GATEWAY_BATCH_SWEEP: '200ms',
        },
        on,
      );
      services.push(gateways[side]);
    }
    for (const name of ['workers-1', 'workers-2']) {
      const host = network.host(name);
      const worker = startNode(
        'bin/maas.js',
        as(`worker-${name}`),
        ['worker', '--sim-profile', PROFILE, '--sim-host', host.address, '--worker-id', name, '--heartbeat', '500ms'],
        { prefix: host.prefix },
      );
      services.push(worker);
      await worker.waitFor((r) => r.msg === 'worker registered', 60_000, `registration of the worker on ${name}`);
    }
    for (const g of Object.values(gateways)) {
      for (const w of ['workers-1', 'workers-2'])
        await g.waitFor((r) => r.msg === 'worker joined' && r.workerId === w, 30_000, `a gateway learning ${w}`);
    }
  }, 240_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop().catch(() => undefined)));
    await nc?.close().catch(() => undefined);
    await network?.destroy();
    await pg?.stop();
    await db?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const clientFor = (key: string, side: 'a' | 'b') => new OpenAI({ apiKey: key, baseURL: `${gateways[side].url}/v1`, maxRetries: 0 });

  it('refuses an anonymous connection on each of the three NATS nodes, with TLS or without; a credential of the store signs in, a worker host speaks for itself only', async () => {
    const readonly = store.envFor('cli-readonly');
    const attempt = (host: Host, options: Partial<ConnectionOptions>) =>
      connect({ servers: `nats://${host.address}:4222`, reconnect: false, timeout: 5000, ...options }).then(
        async (conn) => (await conn.close(), 'signed in'),
        (err: { code?: string; message?: string }) => `refused: ${err.code ?? ''} ${err.message ?? ''}`.trim(),
      );
    const outcomes = await Promise.all(
      natsHosts.map(async (h) => ({
        node: h.name,
        anonymousOverTls: await attempt(h, { tls: { caFile: store.caFile } }),
        anonymousPlain: await attempt(h, {}),
        withCredential: await attempt(h, {
          tls: { caFile: readonly.NATS_CA },
          authenticator: nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(readonly.NATS_NKEY, 'utf8').trim())),
        }),
      })),
    );
    expect(outcomes).toEqual(
      natsHosts.map((h) => ({
        node: h.name,
        anonymousOverTls: expect.stringMatching(/^refused: .*authorization violation/i),
        anonymousPlain: expect.stringMatching(/^refused: /),
        withCredential: 'signed in',
      })),
    );

    // A worker host's credential speaks for its own worker only: workers-1 cannot say workers-2 has gone.
    const worker1 = store.envFor('worker-workers-1');
    const impostor = await connect({
      servers: `nats://${natsHosts[1].address}:4222`,
      tls: { caFile: worker1.NATS_CA },
      authenticator: nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(worker1.NATS_NKEY, 'utf8').trim())),
    });
    const refusals: string[] = [];
    void (async () => {
      for await (const s of impostor.status()) if (s.type === 'error') refusals.push(String(s.data));
    })();
    impostor.publish(subjects.subject('worker.deregistered', 'workers-2'), new TextEncoder().encode('{}'));
    await impostor.flush();
    await waitUntil(async () => refusals.length > 0, 5000, 'the refusal of a worker event for another worker');
    await impostor.close();
    expect(refusals).toEqual(['PERMISSIONS_VIOLATION']);
  });

  it("bills every success once, fails only what was on a lost part, revokes within 1 s, shares a key's requests/min and batch files", async () => {
    const key = (await bus.request('key-registry.create', { userEmail: 'drill@example.org', name: 'drill' })).secret;
    const rpmKey = (
      await bus.request('key-registry.create', { userEmail: 'drill@example.org', name: 'drill-rpm', limits: { requestsPerMinute: RPM } })
    ).secret;
    const clients = { a: clientFor(key, 'a'), b: clientFor(key, 'b') };

    // A batch uploaded and created through gateway A, followed and downloaded through gateway B (before the drill: all three NATS nodes up).
    const batchLines = Array.from({ length: BATCH_LINES }, (_, i) =>
      JSON.stringify({
        custom_id: `line-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: MODEL, messages: [{ role: 'user', content: `Summarise paper ${i}.` }], max_tokens: 8 },
      }),
    );
    const batchStarted = Date.now();
    const batchRun = await (async () => {
      const input = await clients.a.files.create({
        file: await toFile(Buffer.from(batchLines.join('\n') + '\n'), 'input.jsonl'),
        purpose: 'batch',
      });
      const created = await clients.a.batches.create({
        input_file_id: input.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      const finished = await waitUntil(
        async () => {
          const b = await clients.b.batches.retrieve(created.id);
          return b.status === 'completed' || b.status === 'failed' ? b : undefined;
        },
        90_000,
        `batch ${created.id} finishing, seen through gateway-b`,
      );
      const lines = finished.output_file_id
        ? (await (await clients.b.files.content(finished.output_file_id)).text()).split('\n').filter((l) => l.trim())
        : [];
      return { status: finished.status, lines };
    })().catch((err: Error) => ({ status: `error: ${err.message}`, lines: [] as string[] }));
    const outputOk = batchRun.lines
      .map((l) => JSON.parse(l) as { custom_id: string; response?: { status_code: number } })
      .filter((l) => l.response?.status_code === 200);
    const batchMs = Date.now() - batchStarted;

    // The 60/min key, before the drill: offered 3 req/s at each gateway for 20 s inside one wall-clock minute, the limiter's counting unit
    // (twice what one gateway admits, so per-gateway counts would admit all 120).
    // First a key with a high limit through both gateways, so the shared bucket exists and both have used it.
    const warm = (
      await bus.request('key-registry.create', { userEmail: 'drill@example.org', name: 'drill-warm', limits: { requestsPerMinute: 1000 } })
    ).secret;
    for (const side of ['a', 'b'] as const)
      await clientFor(warm, side).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi.' }], max_tokens: 2 });
    const rpmOutcomes = await (async () => {
      if ((Date.now() % 60_000) + RPM_WINDOW_MS > 58_000) await sleep(60_000 - (Date.now() % 60_000) + 100);
      const from = Date.now();
      const rpmClients = { a: clientFor(rpmKey, 'a'), b: clientFor(rpmKey, 'b') };
      const outcomes = await Promise.all(
        (['a', 'b'] as const).flatMap((side) =>
          Array.from({ length: (RPM_WINDOW_MS / 1000) * RPM_OFFER_PER_GATEWAY }, async (_, i) => {
            await sleep(from + (i * 1000) / RPM_OFFER_PER_GATEWAY - Date.now());
            return { side, ...(await send(rpmClients[side], `mhdrill-rpm-${side}-${i}`, false)) };
          }),
        ),
      );
      return outcomes;
    })();

    const sent: Sent[] = [];
    let loading = true;
    const started = Date.now();
    const load = Promise.all(
      (['a', 'b'] as const).map(async (side) => {
        const inFlight: Promise<void>[] = [];
        for (let i = 0; loading; i++) {
          const due = started + (i * 1000) / RATE_PER_GATEWAY;
          if (due > Date.now()) await sleep(due - Date.now());
          const id = `mhdrill-${side}-${i}`;
          const sentAt = Date.now();
          inFlight.push(
            send(clients[side], id, i % 2 === 1).then((r) => void sent.push({ id, gateway: side, sentAt, endedAt: Date.now(), ...r })),
          );
        }
        await Promise.all(inFlight);
      }),
    );

    // A file uploaded through gateway A and read back through gateway B just after a NATS node is lost (the object
    // store's stream may be electing a leader): each call answers 200 or 503 with Retry-After, never a 500, and the
    // bytes read back are the bytes sent.
    const fileBytes = Buffer.from(batchLines.join('\n') + '\n');
    const fileAfterLoss = async () => {
      const statuses: number[] = [];
      const retried = async (attempt: () => Promise<Response>) => {
        for (const deadline = Date.now() + 60_000; ;) {
          const res = await attempt();
          statuses.push(res.status);
          if (res.status !== 503 || Date.now() > deadline) return res;
          await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000);
        }
      };
      const up = await retried(() => {
        const form = new FormData();
        form.append('purpose', 'batch');
        form.append('file', new Blob([fileBytes]), 'after-loss.jsonl');
        return fetch(`${gateways.a.url}/v1/files`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
      });
      if (up.status !== 200) return { statuses, same: false, note: `upload ${up.status}: ${(await up.text()).slice(0, 200)}` };
      const { id } = (await up.json()) as { id: string };
      const down = await retried(() => fetch(`${gateways.b.url}/v1/files/${id}/content`, { headers: { authorization: `Bearer ${key}` } }));
      const same = down.status === 200 && Buffer.from(await down.arrayBuffer()).equals(fileBytes);
      return { statuses, same, note: same ? '' : `download ${down.status}` };
    };

    const marks: Record<string, number> = {};
    await sleep(PHASE_MS.baseline);
    marks.natsKilled = Date.now();
    await network.kill('nats-1');
    const afterLoss = sleep(1000)
      .then(fileAfterLoss)
      .catch((err: Error) => ({ statuses: [] as number[], same: false, note: err.message }));
    await sleep(PHASE_MS.natsDown);
    marks.cut = Date.now();
    network.cut('gateway-b');
    await sleep(PHASE_MS.cut);
    network.restore('gateway-b');
    marks.restored = Date.now();
    await sleep(PHASE_MS.afterCut);
    marks.workersKilled = Date.now();
    await network.kill('workers-2');
    await sleep(PHASE_MS.workersDown);
    loading = false;
    await load;
    const ended = Date.now();
    const fileRun = await afterLoss;

    const phases = [
      { name: 'steady', from: started, to: marks.natsKilled },
      { name: '(a) nats-1 killed', from: marks.natsKilled, to: marks.cut },
      { name: '(b) gateway-b link cut 10 s', from: marks.cut, to: marks.restored },
      { name: '    gateway-b link back', from: marks.restored, to: marks.workersKilled },
      { name: '(c) workers-2 host killed', from: marks.workersKilled, to: ended },
    ];
    // What a lost part may take down: requests to gateway-b from the cut until it has had time to recover,
    // and requests in flight when the workers-2 host died.
    const onLostPart = (s: Sent) =>
      (s.gateway === 'b' && s.endedAt > marks.cut && s.sentAt < marks.restored + RECOVERY_MS) ||
      (s.sentAt <= marks.workersKilled && s.endedAt >= marks.workersKilled);
    const ok = sent.filter((s) => s.outcome === 'ok');
    const failed = sent.filter((s) => s.outcome !== 'ok');

    // The ledger is keyed by the gateway's own request id; the client's X-Request-Id is kept beside it, so a request billed twice shows as two rows.
    // Until every success is in the ledger, or a minute has passed (then the assertions name what is missing).
    const ledgerRows = () =>
      db.query<{ request_id: string; status: number }>(
        "SELECT client_request_id AS request_id, status FROM usage_records WHERE client_request_id LIKE 'mhdrill-a-%' OR client_request_id LIKE 'mhdrill-b-%'",
      );
    let ledger = await ledgerRows();
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ledger = await ledgerRows()) {
      const ids = new Set(ledger.map((r) => r.request_id));
      if (ok.every((s) => ids.has(s.id))) break;
      await sleep(500);
    }
    const billed = new Set(ledger.filter((r) => r.status < 400).map((r) => r.request_id));
    const okIds = new Set(ok.map((s) => s.id));
    const usageEvents = new Map<string, number>();
    for (const e of await usageEventsOf(nc, subjects)) usageEvents.set(e, (usageEvents.get(e) ?? 0) + 1);
    const sentTwice = [...usageEvents].filter(([id, n]) => n > 1 && /^mhdrill-[ab]-/.test(id)).map(([id]) => id);
    const billedNotDelivered = failed.filter((s) => billed.has(s.id));

    // Revocation: a key both gateways have just accepted, revoked through key-registry; each gateway polled until it refuses it.
    const doomed = await bus.request('key-registry.create', { userEmail: 'drill@example.org', name: 'drill-revoked' });
    for (const side of ['a', 'b'] as const) await clientFor(doomed.secret, side).models.list();
    const revokedAt = Date.now();
    await bus.request('key-registry.revoke', { keyId: doomed.key.keyId });
    const revocationMs = await Promise.all(
      (['a', 'b'] as const).map(async (side) => {
        for (;;) {
          const res = await fetch(`${gateways[side].url}/v1/models`, { headers: { authorization: `Bearer ${doomed.secret}` } });
          if (res.status === 401) return Date.now() - revokedAt;
          if (Date.now() - revokedAt > 10_000) return Infinity;
          await sleep(20);
        }
      }),
    );

    const admitted = {
      a: rpmOutcomes.filter((o) => o.side === 'a' && o.outcome === 'ok').length,
      b: rpmOutcomes.filter((o) => o.side === 'b' && o.outcome === 'ok').length,
    };
    const rpmFailed = rpmOutcomes.filter((o) => o.outcome === 'failed');
    const row = (name: string, of: Sent[]) =>
      `  ${name.padEnd(30)} ${String(of.length).padStart(5)} ${String(of.filter((s) => s.outcome === 'ok').length).padStart(10)} ${String(of.filter((s) => s.outcome !== 'ok').length).padStart(7)}` +
      `   (a ${of.filter((s) => s.gateway === 'a' && s.outcome !== 'ok').length}, b ${of.filter((s) => s.gateway === 'b' && s.outcome !== 'ok').length})`;
    console.log(
      [
        `multi-host drill (${FULL ? 'full' : 'short'}): 3 NATS nodes, 2 gateway hosts, 2 worker hosts on ${network.subnet}.0/24; ${RATE_PER_GATEWAY} req/s at each gateway, every other one streamed`,
        `  ${'phase'.padEnd(30)} ${'sent'.padStart(5)} ${'succeeded'.padStart(10)} ${'failed'.padStart(7)}   (failed at gateway)`,
        ...phases.map((p) =>
          row(
            p.name,
            sent.filter((s) => s.sentAt >= p.from && s.sentAt < p.to),
          ),
        ),
        row('all', sent),
        `  ledger          rows ${ledger.length}, billed ${billed.size}; successes missing ${ok.filter((s) => !billed.has(s.id)).length}; duplicates ${ledger.length - new Set(ledger.map((r) => r.request_id)).size} (usage events sent twice, stored once: ${sentTwice.length}); billed but the answer lost on a lost part ${billedNotDelivered.length}`,
        `  usage stream    successes not in the USAGE stream ${ok.filter((s) => !usageEvents.has(s.id)).length}; ${await jetStreamState(nc)}`,
        `  revocation      reached gateway-a in ${revocationMs[0]} ms, gateway-b in ${revocationMs[1]} ms`,
        `  60 rpm key      offered ${rpmOutcomes.length} in ${RPM_WINDOW_MS / 1000} s of one minute (${RPM_OFFER_PER_GATEWAY} req/s per gateway): admitted ${admitted.a + admitted.b} (a ${admitted.a}, b ${admitted.b}), failed ${rpmFailed.length}`,
        `  batch (before)  ${BATCH_LINES} lines uploaded and created through gateway-a, ${batchRun.status} as seen through gateway-b in ${(batchMs / 1000).toFixed(1)} s; output downloaded through gateway-b: ${outputOk.length} of ${BATCH_LINES} lines answered 200`,
        `  file (after)    uploaded through gateway-a and read through gateway-b after nats-1 was killed: ${fileRun.same ? 'same bytes' : `not read back (${fileRun.note})`}; statuses ${fileRun.statuses.join(', ')}`,
        ...failed.slice(0, 8).map((s) => `  failure         ${s.id} +${((s.sentAt - started) / 1000).toFixed(1)} s: ${s.error}`),
        ...ok
          .filter((s) => !billed.has(s.id))
          .slice(0, 8)
          .map((s) => `  unbilled        ${s.id} +${((s.sentAt - started) / 1000).toFixed(1)} s`),
        ...(ok.every((s) => billed.has(s.id)) && batchRun.status === 'completed' ? [] : services).flatMap((p) =>
          p
            .records()
            .filter((r) => r.level === 'error' || r.level === 'warn')
            .slice(-3)
            .map((r) => `  log             ${JSON.stringify(r).slice(0, 300)}`),
        ),
      ].join('\n'),
    );

    expect(sent.length).toBeGreaterThan(100);
    expect(failed.filter((s) => !onLostPart(s)).map((s) => `${s.id}: ${s.error}`)).toEqual([]);
    expect(sent.filter((s) => s.endedAt - s.sentAt > REQUEST_TIMEOUT_MS + 2000)).toEqual([]); // none hung past its timeout
    expect(ok.filter((s) => !billed.has(s.id)).map((s) => s.id)).toEqual([]); // no success unbilled
    expect(ledger.length).toBe(new Set(ledger.map((r) => r.request_id)).size); // none billed twice
    expect([...billed].filter((id) => !okIds.has(id) && !billedNotDelivered.some((s) => s.id === id))).toEqual([]); // nothing billed that was not sent
    expect(billedNotDelivered.filter((s) => !onLostPart(s))).toEqual([]);
    expect(ok.filter((s) => s.gateway === 'b' && s.sentAt > marks.restored + RECOVERY_MS).length).toBeGreaterThan(0);
    expect(Math.max(...revocationMs)).toBeLessThan(1000);
    expect(rpmFailed).toEqual([]);
    // The shared count is per second over the last minute, fed by leases; a gateway that cannot reach it (or does not
    // know whether its write was taken) admits only from its lease in hand, and a write expects the bucket's last
    // sequence (this cluster's NATS 2.9 could take two writes on the same revision, nats-server#4320). Before, runs here
    // admitted 60–63 quiet (a lease lost that way) and up to 69 under load (a cut-off gateway admitted its share too).
    expect(admitted.a + admitted.b).toBeLessThanOrEqual(RPM);
    expect(admitted.a + admitted.b).toBeGreaterThanOrEqual(RPM - 5);
    expect(admitted.a).toBeGreaterThan(0);
    expect(admitted.b).toBeGreaterThan(0);
    expect(batchRun.status).toBe('completed');
    expect(new Set(outputOk.map((l) => l.custom_id))).toEqual(new Set(batchLines.map((_, i) => `line-${i}`)));
    expect(fileRun.statuses.filter((status) => status !== 200 && status !== 503)).toEqual([]);
    expect(fileRun.same).toBe(true);
  }, 300_000);
});

/** The client request ids (X-Request-Id) of every usage event in the namespace's USAGE stream (batches opened), repeats kept. */
async function usageEventsOf(nc: NatsConnection, subjects: Subjects): Promise<string[]> {
  const jsm = await nc.jetstreamManager();
  const name = subjects.stream('usage');
  const info = await jsm.streams.info(name);
  const ids: string[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(name, { seq }).catch(() => undefined);
    if (!m) continue;
    type Event = { requestId: string; clientRequestId?: string };
    const body = JSON.parse(new TextDecoder().decode(m.data)) as Partial<Event> & { records?: { event: Event }[] };
    if (body.records) ids.push(...body.records.map((r) => r.event.clientRequestId ?? r.event.requestId));
    else if (body.requestId) ids.push(body.clientRequestId ?? body.requestId);
  }
  return ids;
}

/** Each stream of the cluster: replicas, leader, messages; its consumers' pending counts. */
async function jetStreamState(nc: NatsConnection): Promise<string> {
  const jsm = await nc.jetstreamManager();
  const out: string[] = [];
  for await (const si of jsm.streams.list()) {
    const consumers: string[] = [];
    for await (const ci of jsm.consumers.list(si.config.name))
      consumers.push(`${ci.name} pending ${ci.num_pending} unacked ${ci.num_ack_pending} leader ${ci.cluster?.leader}`);
    out.push(
      `${si.config.name} R${si.config.num_replicas} leader ${si.cluster?.leader} msgs ${si.state.messages} [${consumers.join('; ')}]`,
    );
  }
  return out.join(' | ');
}
