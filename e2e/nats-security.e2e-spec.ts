import * as fs from 'node:fs';
import { createServer, Server } from 'node:http';
import * as net from 'node:net';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, ConnectionOptions, NatsConnection, NatsError } from 'nats';
import { keyVerifyRequest, Subjects, WorkerRegistered } from '@maas/contracts';
import { loadConfig, natsSecurityConfigSpec } from '@maas/config';
import { Logger } from '@maas/logging';
import { connectNats, MessageBus, natsConnectionOptions } from '@maas/nats';
import {
  createTestDatabase,
  SecureNatsServer,
  startNode,
  StartedProcess,
  startSecureNatsServer,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
} from '@maas/testing';

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const PROFILE = 'a100-qwen2.5-3b';
const logger = new Logger('nats-security-test', 'silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A connection as one identity, keeping every error the server sends it (refused publishes and subscriptions). */
interface Client {
  nc: NatsConnection;
  bus: MessageBus;
  errors: string[];
  disconnects: number;
}

/**
 * The NATS of `npm start` — TLS required, no anonymous user, one nkey per identity with allow-lists —
 * with the real key-registry, router and gateway and a real `maas worker`, each signed in as itself.
 * Every refusal the security model promises is tried here from outside, with the credentials an
 * attacker on the campus network could hold.
 */
describe('NATS with the generated auth and TLS config', () => {
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  let nats: SecureNatsServer;
  let db: TestDatabase;
  let keyRegistry: StartedService;
  let router: StartedService;
  let gateway: StartedService;
  let metricsCollector: StartedService;
  let worker: StartedProcess;
  let admin: Client;
  const clients: Client[] = [];
  /** The fake worker's HTTP server: any request reaching it is a user's prompt stolen. */
  let decoy: Server;
  let decoyHits = 0;
  let decoyUrl: string;

  /** `maas <args>` against this NATS's credential folder, as the operator runs it. */
  async function maas(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
    const proc = startNode('bin/maas.js', { MAAS_NATS_DIR: nats.store.dir, ...env }, args);
    const code = await new Promise<number | null>((resolve) =>
      proc.child.exitCode !== null ? resolve(proc.child.exitCode) : proc.child.once('exit', resolve),
    );
    await sleep(50);
    return { code, out: proc.lines.join('\n') };
  }

  const optionsFor = (env: Record<string, string>): ConnectionOptions =>
    natsConnectionOptions(env.NATS_URL, loadConfig(natsSecurityConfigSpec, env));

  async function client(identity: string, env: Record<string, string> = nats.envFor(identity)): Promise<Client> {
    const nc = await connect({ ...optionsFor(env), name: `test-${identity}`, maxReconnectAttempts: 3, reconnectTimeWait: 200 });
    const c: Client = { nc, bus: new MessageBus(nc, subjects), errors: [], disconnects: 0 };
    void (async () => {
      for await (const s of nc.status()) {
        const refused = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (s.type === 'error') c.errors.push(refused ? `${refused.operation} ${refused.subject}` : String(s.data));
        if (s.type === 'disconnect') c.disconnects += 1;
      }
    })();
    clients.push(c);
    return c;
  }

  const workerIds = async () => (await admin.bus.request('router.list-workers', {}, 5000)).workers.map((w) => w.registration.workerId);
  const registration = (workerId: string, url: string): WorkerRegistered => ({
    workerId,
    url,
    hardware: 'gpu',
    capacity: 8,
    vmId: workerId,
    runtime: { kind: 'vllm' },
    models: [{ id: MODEL, capabilities: ['chat'] }],
    sentAt: new Date().toISOString(),
  });

  beforeAll(async () => {
    decoy = createServer((_req, res) => {
      decoyHits += 1;
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => decoy.listen(0, '127.0.0.1', r));
    decoyUrl = `http://127.0.0.1:${(decoy.address() as AddressInfo).port}`;

    nats = await startSecureNatsServer(namespace);
    const issued = await maas(['credentials', 'issue', 'worker', '--node', 'gpu-node-7']);
    expect(issued.code).toBe(0);
    expect(issued.out).toContain('nats-server reloaded its config');
    db = await createTestDatabase('natssec');
    const serviceEnv = (name: string) => ({ ...nats.envFor(name), DATABASE_URL: db.url, WORKER_EXPIRY_MS: '3s' });
    [keyRegistry, router] = await Promise.all([
      startService('key-registry', serviceEnv('key-registry')),
      startService('router', serviceEnv('router')),
    ]);
    [gateway, metricsCollector] = await Promise.all([
      startService('gateway', serviceEnv('gateway')),
      startService('metrics-collector', serviceEnv('metrics-collector')),
    ]);
    admin = await client('cli-admin');
    worker = startNode('bin/maas.js', { ...nats.envFor('worker-gpu-node-7'), LOG_LEVEL: 'info' }, [
      'worker',
      '--sim-profile',
      PROFILE,
      '--worker-id',
      'gpu-node-7',
      '--heartbeat',
      '500ms',
    ]);
    await gateway.waitFor((r) => r.msg === 'worker joined' && r.workerId === 'gpu-node-7', 60_000, 'the gateway learning the real worker');
  });

  afterAll(async () => {
    for (const c of clients) await c.nc.close().catch(() => undefined);
    await Promise.all([worker?.stop('SIGKILL'), gateway?.stop(), metricsCollector?.stop(), router?.stop(), keyRegistry?.stop()]);
    await nats?.stop();
    await db?.drop();
    await new Promise((r) => decoy?.close(r));
  });

  it('writes every credential, the CA key and the config readable by their owner only', () => {
    const dir = nats.store.dir;
    const files = [
      'nats-server.conf',
      'identities.json',
      'ca.key',
      'server.key',
      ...fs.readdirSync(path.join(dir, 'credentials')).map((f) => path.join('credentials', f)),
    ];
    expect(files.length).toBeGreaterThan(12);
    for (const f of files)
      expect({ file: f, mode: (fs.statSync(path.join(dir, f)).mode & 0o777).toString(8) }).toEqual({ file: f, mode: '600' });
    // The server keeps public keys only: no seed appears in its config.
    const config = fs.readFileSync(nats.store.configFile, 'utf8');
    for (const f of fs.readdirSync(path.join(dir, 'credentials'))) {
      expect(config).not.toContain(fs.readFileSync(path.join(dir, 'credentials', f), 'utf8').trim());
    }
  });

  it('refuses an anonymous connection, which a service reports in one line', async () => {
    const err = await connect({ servers: nats.url, tls: { caFile: nats.store.caFile }, reconnect: false }).then(
      (nc) => nc.close().then(() => undefined),
      (e: NatsError) => e,
    );
    expect(err?.code).toBe('AUTHORIZATION_VIOLATION');
    const insecure = loadConfig(natsSecurityConfigSpec, { NATS_CA: nats.store.caFile, MAAS_NATS_INSECURE: '1' });
    await expect(connectNats(nats.url, 'anonymous', logger, insecure)).rejects.toThrow(
      `NATS at ${nats.url} refused an anonymous connection (authorization violation): check the credentials, or whether they were revoked`,
    );
  });

  it('refuses a plain-text client before it signs in', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(nats.url).port), '127.0.0.1');
      let text = '';
      socket.on('data', (d) => {
        text += d.toString('utf8');
        if (text.includes('INFO ') && !text.includes('CONNECT-SENT')) {
          text += 'CONNECT-SENT';
          socket.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":false}\r\nPING\r\n');
        }
      });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(15_000, () => reject(new Error(`no refusal within 15 s: ${text}`)));
    });
    // It announces TLS as required, then closes on the plain-text CONNECT without a word of the protocol.
    expect(JSON.parse(/INFO (\{.*\})/.exec(reply)![1]).tls_required).toBe(true);
    expect(reply.slice(reply.indexOf('CONNECT-SENT'))).toBe('CONNECT-SENT');
  });

  it('does not connect to a server whose certificate the local CA did not sign, and says why in one line', async () => {
    const { NATS_CA: _ca, ...withoutCa } = nats.envFor('gateway');
    await expect(connectNats(nats.url, 'no-ca', logger, loadConfig(natsSecurityConfigSpec, withoutCa))).rejects.toThrow(
      /^NATS at nats:\/\/127\.0\.0\.1:\d+: TLS failed \(.*certificate.*\): NATS_CA must name the CA that signed the server's certificate$/,
    );
  });

  it('lets a worker credential speak for its own id only, and never answer or read key-registry.verify', async () => {
    const seed = nats.store.seedFile('worker-gpu-node-7');
    const w = await client('worker-gpu-node-7', { ...nats.envFor('worker-gpu-node-7'), NATS_NKEY: seed });
    // Another worker's registration, pointing at the decoy.
    w.bus.publish('worker.registered', registration('gpu-node-8', decoyUrl));
    // Its own subject, another id in the body: the server lets it through, every consumer drops it.
    w.nc.publish(
      subjects.subject('worker.registered', 'gpu-node-7'),
      new TextEncoder().encode(JSON.stringify(registration('gpu-node-9', decoyUrl))),
    );
    const verify = w.nc.subscribe(subjects.subject('key-registry.verify'));
    const stolen: string[] = [];
    void (async () => {
      for await (const m of verify) stolen.push(new TextDecoder().decode(m.data));
    })().catch(() => undefined);
    await w.nc.flush();
    await until(
      () =>
        w.errors.includes(`publish ${subjects.subject('worker.registered', 'gpu-node-8')}`) &&
        w.errors.includes(`subscription ${subjects.subject('key-registry.verify')}`),
      10_000,
      `both refusals (errors so far: ${JSON.stringify(w.errors)})`,
    );
    await router.waitFor(
      (r) => r.msg === 'rejected malformed message' && String(r.error).includes('gpu-node-9'),
      10_000,
      'the router dropping a body that names another worker',
    );

    // key-registry still answers verify (the gateway's request reaches it, not the worker).
    const gatewayClient = await client('gateway');
    const reply = await gatewayClient.bus.request(
      'key-registry.verify',
      keyVerifyRequest('sk-notakey0_not-a-real-key-000000000000')!,
      5000,
    );
    expect(reply.valid).toBe(false);
    expect(stolen).toEqual([]);
    expect(await workerIds()).toEqual(['gpu-node-7']);
  });

  it('refuses worker.registered from a gateway credential: the forged worker never receives a request, while chats, usage and a batch flow', async () => {
    const g = await client('gateway');
    g.bus.publish('worker.registered', registration('gpu-node-7', decoyUrl));
    g.bus.publish('worker.registered', registration('forged-1', decoyUrl));
    await g.nc.flush();
    await until(
      () =>
        g.errors.includes(`publish ${subjects.subject('worker.registered', 'gpu-node-7')}`) &&
        g.errors.includes(`publish ${subjects.subject('worker.registered', 'forged-1')}`),
      10_000,
      `the refusals (errors so far: ${JSON.stringify(g.errors)})`,
    );

    const since = new Date(Date.now() - 1000).toISOString();
    const created = await admin.bus.request('key-registry.create', { userEmail: 'ada@example.org', name: 'nats-security' }, 5000);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${created.secret}` },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `hello ${i}` }], max_tokens: 4 }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect(decoyHits).toBe(0);
    expect(await workerIds()).toEqual(['gpu-node-7']);
    expect(
      gateway
        .records()
        .filter((r) => r.msg === 'worker joined')
        .map((r) => r.workerId),
    ).toEqual(['gpu-node-7']);

    // The real traffic still flows under the allow-lists: usage through JetStream into the ledger.
    const usage = await until(
      async () => {
        const reply = await admin.bus.request('metrics-collector.key-usage', { keyId: created.key.keyId, since: [since] }, 5000);
        return reply.windows[0].interactiveTokens > 0 ? reply : undefined;
      },
      30_000,
      'the ledger recording the requests',
    );
    expect(usage.windows[0].interactiveTokens).toBeGreaterThan(0);

    // A batch: its file in the object store, its requests through the BATCH_WORK stream, limits in KV.
    const auth = { authorization: `Bearer ${created.secret}` };
    const form = new FormData();
    form.set('purpose', 'batch');
    const line = {
      custom_id: 'a',
      method: 'POST',
      url: '/v1/chat/completions',
      body: { model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 },
    };
    form.set('file', new Blob([`${JSON.stringify(line)}\n`], { type: 'application/jsonl' }), 'batch.jsonl');
    const file = await (await fetch(`${gateway.url}/v1/files`, { method: 'POST', headers: auth, body: form })).json();
    const batch = await (
      await fetch(`${gateway.url}/v1/batches`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
      })
    ).json();
    expect(batch.status).toBeDefined();
    const done = await until(
      async () => {
        const b = await (await fetch(`${gateway.url}/v1/batches/${batch.id}`, { headers: auth })).json();
        return ['completed', 'failed', 'expired', 'cancelled'].includes(b.status) ? b : undefined;
      },
      60_000,
      'the batch finishing',
    );
    expect(done).toMatchObject({ status: 'completed', request_counts: { completed: 1, failed: 0 } });
  });

  it('refuses nothing the services themselves do', () => {
    for (const service of [keyRegistry, router, gateway, metricsCollector]) {
      expect(service.records().filter((r) => r.data === 'PERMISSIONS_VIOLATION')).toEqual([]);
    }
    expect(worker.records().filter((r) => r.data === 'PERMISSIONS_VIOLATION')).toEqual([]);
  });

  it('gives the operators an admin identity that makes keys and a read-only one that cannot', async () => {
    const envOf = async (identity: string): Promise<Record<string, string>> => {
      const printed = await maas(['credentials', 'env', identity]);
      expect(printed.code).toBe(0);
      return Object.fromEntries(
        [...printed.out.matchAll(/^export (\w+)=(".*")$/gm)].map((m) => [m[1], JSON.parse(m[2]) as string]),
      ) as Record<string, string>;
    };
    const adminEnv: Record<string, string> = { ...(await envOf('cli-admin')), NATS_URL: nats.url, MAAS_NATS_INSECURE: '0' };
    const readOnlyEnv: Record<string, string> = { ...(await envOf('cli-readonly')), NATS_URL: nats.url, MAAS_NATS_INSECURE: '0' };
    expect(adminEnv.NATS_NKEY).toBe(nats.store.seedFile('cli-admin'));

    const made = await maas(['keys', 'create', '--user', 'grace@example.org'], adminEnv);
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/^sk-/);
    const listed = await maas(['keys', 'list'], readOnlyEnv);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('grace@example.org');
    const refused = await maas(['keys', 'create', '--user', 'mallory@example.org'], readOnlyEnv);
    expect(refused.code).toBe(1);
    expect((await admin.bus.request('key-registry.list', {}, 5000)).keys.map((k) => k.userEmail)).not.toContain('mallory@example.org');
    const anonymous = await maas(['keys', 'list'], {
      NATS_URL: nats.url,
      NATS_CA: nats.store.caFile,
      MAAS_NATS_INSECURE: '0',
      NATS_NKEY: '',
    });
    expect(anonymous.code).toBe(1);
    expect(anonymous.out).toMatch(/no NATS credentials/);
  });

  it('disconnects and then refuses a worker credential once it is revoked and the server reloaded', async () => {
    const seedCopy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'maas-revoked-')), 'worker.nk');
    fs.copyFileSync(nats.store.seedFile('worker-gpu-node-7'), seedCopy);
    const w = await client('worker-gpu-node-7', { ...nats.envFor('worker-gpu-node-7'), NATS_NKEY: seedCopy });
    const revoked = await maas(['credentials', 'revoke', 'worker', '--node', 'gpu-node-7']);
    expect(revoked).toEqual({ code: 0, out: expect.stringContaining('nats-server reloaded its config') });
    await until(() => w.disconnects > 0 || w.nc.isClosed(), 15_000, 'the revoked connection closed');
    const err = await connect({ ...optionsFor({ ...nats.envFor('cli-readonly'), NATS_NKEY: seedCopy }), reconnect: false }).then(
      (nc) => nc.close().then(() => undefined),
      (e: NatsError) => e,
    );
    expect(err?.code).toBe('AUTHORIZATION_VIOLATION');
    await expect(
      connectNats(nats.url, 'revoked', logger, loadConfig(natsSecurityConfigSpec, { ...nats.envFor('cli-readonly'), NATS_NKEY: seedCopy })),
    ).rejects.toThrow(`NATS at ${nats.url} refused the nkey in ${seedCopy} (authorization violation)`);
    // The real worker on that credential is gone too: the router expires it.
    await until(async () => !(await workerIds()).includes('gpu-node-7'), 30_000, 'the router expiring the revoked worker');
    fs.rmSync(path.dirname(seedCopy), { recursive: true, force: true });
  });
});
