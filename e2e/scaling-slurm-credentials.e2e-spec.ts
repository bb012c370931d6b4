import * as fs from 'node:fs';
import * as path from 'node:path';
import { connect, NatsConnection, nkeyAuthenticator } from 'nats';
import { Subjects } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { NatsCredentialStore } from '@maas/nats';
import { projectRoot, systemClock } from '@maas/platform';
import type { CapacityEvent } from '@maas/scaling';
import { SecureNatsServer, startSecureNatsServer, testNamespace } from '@maas/testing';
import { slurmCommands } from '../services/vm-scaler/src/repositories/providers/slurm-cli';
import { SlurmCapacityProvider } from '../services/vm-scaler/src/repositories/providers/slurm.provider';
import { IssuedWorkerCredentials } from '../services/vm-scaler/src/repositories/providers/worker-environment';
import { slurmUnavailable, startSlurm, StartedSlurm } from './support/slurm';

const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
const PROFILE = 'cpu16-qwen2.5-3b';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 60_000): Promise<T> {
  for (const deadline = Date.now() + ms; ; await sleep(200)) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

/**
 * The Slurm provider against a NATS as `npm start` runs it (TLS, an nkey per identity), on a real
 * slurmctld/slurmd: the job's worker signs in with a worker credential the provider issued for that job
 * (named before sbatch, granted the job's worker id `slurm-<job id>` once queued) and loses it when the
 * job has ended.
 */
describe('Slurm provider: each job signs in to NATS with a credential of its own', () => {
  it('has a Slurm to run against', () => {
    expect(slurmUnavailable() ?? 'available').toBe('available');
  });

  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  let slurm: StartedSlurm;
  let nats: SecureNatsServer;
  let provider: SlurmCapacityProvider | undefined;
  const connections: NatsConnection[] = [];
  const slurmConf = process.env.SLURM_CONF;

  const signIn = (seed: string, reconnect = true) =>
    connect({
      servers: nats.url,
      reconnect,
      tls: { caFile: nats.store.caFile },
      authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
    });

  beforeAll(async () => {
    slurm = await startSlurm();
    // sbatch, squeue and scancel find this cluster through it, as the vm-scaler's would
    process.env.SLURM_CONF = slurm.env.SLURM_CONF;
    nats = await startSecureNatsServer(namespace);
  }, 120_000);

  afterAll(async () => {
    await provider?.close();
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    await slurm?.stop();
    await nats?.stop();
    if (slurmConf === undefined) delete process.env.SLURM_CONF;
    else process.env.SLURM_CONF = slurmConf;
  });

  it("runs the job's worker with the job's own credential, refuses it another worker's events, and revokes it once the job has ended", async () => {
    const warnings: string[] = [];
    provider = new SlurmCapacityProvider(
      slurmCommands,
      {
        script: path.join(projectRoot(), 'deploy', 'slurm', 'maas-worker.sbatch'),
        home: projectRoot(),
        sbatchArgs: [],
        argsTemplate: '--sim-profile {vmType} --sim-model {model} --sim-host 127.0.0.1 --sim-port 0 --heartbeat 500ms',
        // No way in but the issued credential: the tests' insecure opt-out is switched off for the job.
        env: { NATS_URL: nats.url, MAAS_NAMESPACE: namespace, MAAS_NATS_INSECURE: '0', LOG_LEVEL: 'info' },
        namespace,
        logDir: path.join(slurm.dir, 'jobs'),
        pollMs: 500,
        bootTimeoutMs: 90_000,
        stopGraceMs: 20_000,
        drainTimeoutMs: 5000,
        credentials: new IssuedWorkerCredentials(nats.store, (msg) => warnings.push(msg)),
      },
      systemClock,
      new Logger('vm-scaler', 'warn'),
    );
    await provider.open();
    const events: CapacityEvent[] = [];
    provider.subscribe((e) => events.push(e));

    const router = await connect({
      servers: nats.url,
      tls: { caFile: nats.store.caFile },
      authenticator: nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(nats.store.seedFile('router'), 'utf8').trim())),
      inboxPrefix: `_INBOX.${NatsCredentialStore.publicKeyOf(nats.store.seedFile('router'))}`,
    });
    connections.push(router);
    const seen: string[] = [];
    for (const name of ['worker.registered', 'worker.heartbeat', 'worker.deregistered'] as const)
      router.subscribe(subjects.subject(name), { callback: (_err, m) => seen.push(m.subject) });
    await router.flush();

    const vm = await provider.start({ vmType: PROFILE, model: MODEL, reason: 'test' });
    expect(vm.id).toMatch(/^slurm-\d+$/);
    const jobLog = path.join(slurm.dir, 'jobs', `maas-worker-${vm.id.slice('slurm-'.length)}.log`);
    await until(
      () => seen.includes(subjects.subject('worker.registered', vm.id)),
      `the job's worker registering as ${vm.id} (job log: ${fs.existsSync(jobLog) ? fs.readFileSync(jobLog, 'utf8').slice(-1500) : 'none'}\n${slurm.log()})`,
      90_000,
    );

    // One credential, named before the job was, speaking for the job's worker id only.
    const issued = nats.store.identities().filter((i) => i.role === 'worker');
    expect(issued).toEqual([expect.objectContaining({ name: expect.stringMatching(/^worker-slurm-[0-9a-f]{12}$/), workerIds: [vm.id] })]);
    const seedFile = nats.store.seedFile(issued[0].name);
    const seed = fs.readFileSync(seedFile, 'utf8').trim();

    // The job's worker holds the path of that seed in its environment; the seed is in no command line, environment or log.
    const pid = await until(
      () =>
        fs
          .readdirSync('/proc')
          .filter((p) => /^\d+$/.test(p))
          .find((p) => {
            try {
              const args = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
              // job ids restart at 1 in each test's Slurm: another suite's worker may bear the same id
              const ours = fs.readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(`MAAS_NAMESPACE=${namespace}`);
              return args.includes('worker') && args.includes(vm.id) && ours;
            } catch {
              return false;
            }
          }),
      `the worker process of ${vm.id}`,
    );
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(environ).toContain(`NATS_NKEY=${seedFile}`);
    expect(environ).toContain(`NATS_CA=${nats.store.caFile}`);
    expect(environ.some((kv) => kv.includes(seed))).toBe(false);
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(seed);
    expect(fs.readFileSync(jobLog, 'utf8')).not.toContain(seed);

    // With the job's credential: its own events go through, another worker's are refused by the server.
    const impostor = await signIn(seed);
    connections.push(impostor);
    const refusals: string[] = [];
    void (async () => {
      for await (const s of impostor.status()) if (s.type === 'error') refusals.push(String(s.data));
    })();
    const before = seen.length;
    impostor.publish(subjects.subject('worker.deregistered', 'slurm-999999'), new TextEncoder().encode('{}'));
    impostor.publish(subjects.subject('worker.heartbeat', vm.id), new TextEncoder().encode('{}'));
    await impostor.flush();
    await until(() => refusals.length >= 1, 'the server refusing the publication for another worker');
    await sleep(300);
    expect(seen.slice(before)).not.toContain(subjects.subject('worker.deregistered', 'slurm-999999'));
    expect(refusals).toEqual(['PERMISSIONS_VIOLATION']);
    await impostor.close();

    // Drained: the job ends, its credential goes.
    provider.workerReady(vm.id);
    await provider.drain(vm.id, 'test');
    await until(() => events.some((e) => e.vmId === vm.id && e.to === 'stopped'), `${vm.id} stopped`);
    await until(() => !nats.store.identities().some((i) => i.role === 'worker'), `the credential of ${vm.id} revoked`);
    expect(fs.existsSync(seedFile)).toBe(false);
    // a connection attempt that times out, or whose TLS session is cut before the server's answer is read (the server
    // closes right after its -ERR), says nothing on a loaded machine: tried again until the server's answer is read
    const inconclusive = (outcome: string) => /^refused: (TIMEOUT|ERR_SSL_|ECONNRESET|EPIPE)/.test(outcome);
    let again = 'refused: TIMEOUT';
    for (let i = 0; i < 5 && inconclusive(again); i++)
      again = await signIn(seed, false).then(
        async (nc) => (await nc.close(), 'signed in'),
        (err: { code?: string }) => `refused: ${err.code}`,
      );
    expect(again).toBe('refused: AUTHORIZATION_VIOLATION');
    expect(warnings).toEqual([]);
  }, 180_000);
});
