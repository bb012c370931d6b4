import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, NatsConnection, nkeyAuthenticator } from 'nats';
import { Subjects } from '@maas/contracts';
import type { CapacityEvent } from '@maas/scaling';
import { inboxPrefixFor, NatsCredentialStore } from '@maas/nats';
import { projectRoot, systemClock } from '@maas/platform';
import { SecureNatsServer, startSecureNatsServer, testNamespace } from '@maas/testing';
import { LocalCapacityProvider } from '../src/repositories/providers/local.provider';
import { IssuedWorkerCredentials } from '../src/repositories/providers/worker-environment';

const PROFILE = 'a100-qwen2.5-3b';
const MODEL = 'Qwen/Qwen2.5-3B-Instruct';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 30_000): Promise<T> {
  for (const deadline = Date.now() + ms; ; await sleep(100)) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/**
 * The local provider against a NATS as `npm start` runs it (TLS, an nkey per identity): each node it
 * starts runs a real `maas worker` signed in with a worker credential the provider issued for that node
 * from the credential store, and the credential is revoked once the node has stopped.
 */
describe('local capacity provider: a NATS credential of its own for each node', () => {
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-provider-credentials-'));
  let nats: SecureNatsServer;
  const connections: NatsConnection[] = [];

  /** Signs in with a seed (its text: it may be gone from the store by then), as a worker does. */
  const signIn = async (seed: string) => {
    const nc = await connect({
      servers: nats.url,
      reconnect: false,
      tls: { caFile: nats.store.caFile },
      authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
    });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    nats = await startSecureNatsServer(namespace);
  });

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    await nats?.stop();
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it("starts each worker with its node's own credential, in its environment only; the worker cannot speak for another; stopping revokes it", async () => {
    const warnings: string[] = [];
    const credentials = new IssuedWorkerCredentials(nats.store, (msg) => warnings.push(msg));
    const provider = new LocalCapacityProvider(
      {
        command: [process.execPath, path.join(projectRoot(), 'bin', 'maas.js'), 'worker'],
        argsTemplate: '--sim-profile {vmType} --sim-model {model} --sim-host 127.0.0.1 --sim-port 0 --heartbeat 500ms',
        // No way in but the issued credential: the tests' insecure opt-out is switched off for the workers.
        env: { NATS_URL: nats.url, MAAS_NAMESPACE: namespace, MAAS_NATS_INSECURE: '0', LOG_LEVEL: 'info' },
        logDir,
        bootTimeoutMs: 60_000,
        stopGraceMs: 20_000,
        drainTimeoutMs: 5000,
        idPrefix: 'cred',
        credentials,
      },
      systemClock,
    );
    await provider.open();
    const events: CapacityEvent[] = [];
    provider.subscribe((e) => events.push(e));

    // What the workers announce, seen as the router sees it.
    const routerSeed = fs.readFileSync(nats.store.seedFile('router'), 'utf8').trim();
    const router = await connect({
      servers: nats.url,
      tls: { caFile: nats.store.caFile },
      authenticator: nkeyAuthenticator(new TextEncoder().encode(routerSeed)),
      inboxPrefix: inboxPrefixFor(NatsCredentialStore.publicKeyOf(nats.store.seedFile('router'))),
    });
    connections.push(router);
    const seen: string[] = [];
    for (const name of ['worker.registered', 'worker.heartbeat', 'worker.deregistered'] as const)
      router.subscribe(subjects.subject(name), { callback: (_err, m) => seen.push(m.subject) });
    await router.flush();

    const [a, b] = [await provider.start({ vmType: PROFILE, model: MODEL }), await provider.start({ vmType: PROFILE, model: MODEL })];
    for (const node of [a, b])
      await until(() => seen.includes(subjects.subject('worker.registered', node.id)), `${node.id} registering over NATS`, 60_000);

    // One credential per node, speaking for that node's worker id only, its seed private to this user.
    const issued = nats.store.identities().filter((i) => i.role === 'worker');
    expect(issued.map((i) => ({ name: i.name, workerIds: i.workerIds }))).toEqual([
      { name: `worker-${a.id}`, workerIds: [a.id] },
      { name: `worker-${b.id}`, workerIds: [b.id] },
    ]);
    const seedFile = nats.store.seedFile(`worker-${a.id}`);
    expect((fs.statSync(seedFile).mode & 0o777).toString(8)).toBe('600');
    const seed = fs.readFileSync(seedFile, 'utf8').trim();

    // Handed over in the environment as the path of the seed: the seed is in no command line, environment or log.
    const pid = (JSON.parse(fs.readFileSync(path.join(logDir, `${a.id}.node.json`), 'utf8')) as { pid: number }).pid;
    const environ = Object.fromEntries(
      fs
        .readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    expect({ NATS_NKEY: environ.NATS_NKEY, NATS_CA: environ.NATS_CA }).toEqual({ NATS_NKEY: seedFile, NATS_CA: nats.store.caFile });
    expect(Object.values(environ).some((v) => v.includes(seed))).toBe(false);
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(seed);
    expect(fs.readFileSync(path.join(logDir, `${a.id}.log`), 'utf8')).not.toContain(seed);

    // With a's credential: a's events go through, b's are refused by the server.
    const impostor = await signIn(seed);
    const refusals: string[] = [];
    void (async () => {
      for await (const s of impostor.status()) if (s.type === 'error') refusals.push(String(s.data));
    })();
    const before = seen.length;
    impostor.publish(subjects.subject('worker.heartbeat', b.id), new TextEncoder().encode('{}'));
    impostor.publish(subjects.subject('worker.deregistered', b.id), new TextEncoder().encode('{}'));
    impostor.publish(subjects.subject('worker.heartbeat', a.id), new TextEncoder().encode('{}'));
    await impostor.flush();
    await until(() => refusals.length >= 2, 'the server refusing both of the publications for b');
    await sleep(300);
    const after = seen.slice(before);
    expect(after.filter((s) => s.endsWith(`.${b.id}`) && s.includes('.deregistered.'))).toEqual([]);
    expect(after).toContain(subjects.subject('worker.heartbeat', a.id));
    expect(refusals.every((r) => /PERMISSIONS_VIOLATION/.test(r))).toBe(true);

    // a drains and stops: its credential goes (seed deleted, config reloaded), b's stays.
    provider.workerReady(a.id);
    await provider.drain(a.id, 'test');
    await until(() => events.some((e) => e.vmId === a.id && e.to === 'stopped'), `${a.id} stopped`);
    await until(() => !nats.store.identities().some((i) => i.name === `worker-${a.id}`), `worker-${a.id} revoked`);
    expect(fs.existsSync(seedFile)).toBe(false);
    const again = await connect({
      servers: nats.url,
      reconnect: false,
      tls: { caFile: nats.store.caFile },
      authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
    }).then(
      async (nc) => (await nc.close(), 'signed in'),
      (err: { code?: string }) => `refused: ${err.code}`,
    );
    expect(again).toBe('refused: AUTHORIZATION_VIOLATION');
    expect(
      nats.store
        .identities()
        .filter((i) => i.role === 'worker')
        .map((i) => i.name),
    ).toEqual([`worker-${b.id}`]);
    const beat = seen.length;
    await until(() => seen.slice(beat).includes(subjects.subject('worker.heartbeat', b.id)), `${b.id} still beating`);
    expect(warnings).toEqual([]);

    provider.workerReady(b.id);
    await provider.close();
    await until(() => !nats.store.identities().some((i) => i.role === 'worker'), `worker-${b.id} revoked`);
  }, 120_000);
});
