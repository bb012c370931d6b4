import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { JSONCodec } from 'nats';
import { WorkerRegistered } from '@maas/contracts';
import { projectRoot } from '@maas/platform';
import { factory, startNode, StartedProcess, startService, StartedService } from '@maas/testing';
import { MODEL, PROFILE, Stack, waitUntil } from '../services/gateway/test/support/stack';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const USER = { username: 'maas-scaler', password: 'e2e-password-1' };
const TOKEN_TTL_S = 3;

/** One VM per 10 req/s, released 2 s after demand goes; up to two VMs so that a failed boot can be replaced. */
const spec = {
  replicas: { stableWindowSeconds: 3, panicWindowSeconds: 1, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [{ name: PROFILE, accelerator: 'gpu', costPerHour: 1, bootSeconds: 5, slots: { [MODEL]: 1 }, maxCount: 2 }],
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

interface SimVm {
  id: string;
  status: string;
  task: string | null;
  boots: number;
  failedBoots: number;
}

/**
 * The whole path on the research cloud, with the mdx API simulated: demand makes the vm-scaler's mdx
 * provider power on a pool VM of `maas mdx-sim`; the first one's guest hangs (no worker), so its boot
 * times out, it is powered off and the other VM is powered on; that VM's template runs
 * `maas worker --launch sim-engine`, whose worker registers; a chat through the gateway is answered;
 * demand goes, the VM is shut down (its worker drains) and is PowerOFF. The provider's token
 * expires while it is idle and is renewed.
 */
describe('vm-scaler with the mdx provider against maas mdx-sim', () => {
  const stack = new Stack();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-mdx-e2e-'));
  let sim: StartedProcess | undefined;
  let simUrl = '';
  let scaler: StartedService | undefined;
  const seen: { name: string; at: number; body: Record<string, unknown> }[] = [];

  const rows = <T>(sql: string, params: unknown[] = []) => stack.db.query<T>(sql, params);
  const simVms = async () => (await (await fetch(`${simUrl}/_sim/vms`)).json()) as SimVm[];
  const simStats = async () =>
    (await (await fetch(`${simUrl}/_sim/stats`)).json()) as { logins: number; refreshes: number; unauthorized: Record<string, number> };
  const diagnostics = () =>
    [
      ...fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-8).join('\n')}`),
      `--- mdx-sim\n${sim?.lines.slice(-5).join('\n')}`,
      `--- vm-scaler\n${scaler?.lines.slice(-20).join('\n')}`,
    ].join('\n');
  /** Keeps reporting `requestRate` of demand until `done` holds. */
  async function holdDemand<T>(
    requestRate: number,
    done: () => T | undefined | false | Promise<T | undefined | false>,
    ms: number,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      stack.bus.publish(
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
      if (value !== undefined && value !== null && value !== false) return value as T;
      await sleep(300);
    }
    throw new Error(`${what} within ${ms} ms\n${diagnostics()}`);
  }
  const registeredReady = (vmId: string) =>
    seen.find((e) => e.name === 'worker.registered' && e.body.vmId === vmId && (e.body.state ?? 'ready') === 'ready');

  beforeAll(async () => {
    await stack.start();
    for (const name of ['worker.registered', 'worker.draining', 'worker.deregistered'] as const) {
      stack.nc.subscribe(stack.subjects.subject(name), {
        callback: (_e, m) => seen.push({ name, at: Date.now(), body: JSONCodec<Record<string, unknown>>().decode(m.data) }),
      });
    }
    // what the VM template's unit runs on boot
    const worker = [
      '--launch',
      'sim-engine',
      '--model',
      MODEL,
      '--heartbeat',
      '500ms',
      '--drain-timeout',
      '30s',
      '--',
      '--profile',
      PROFILE,
      '--startup-delay',
      '1s',
    ];
    fs.writeFileSync(
      path.join(dir, 'mdx-sim.json'),
      JSON.stringify({
        users: [USER],
        tokenTtlSeconds: TOKEN_TTL_S,
        seed: 11,
        bootSeconds: { kind: 'uniform', min: 1, max: 2 },
        bootFailureRate: 0,
        bootFailureMode: 'guest-hangs',
        powerOffSeconds: 0.5,
        shutdownTimeoutSeconds: 60,
        rateLimit: { requestsPerSecond: 10, burst: 20 },
        projects: [
          {
            id: 'proj-e2e',
            vms: [
              { id: 'mdx-vm-1', worker, failFirstBoots: 1 },
              { id: 'mdx-vm-2', worker },
            ],
          },
        ],
        maasCommand: [process.execPath, path.join(projectRoot(), 'dist', 'cli', 'main.js')],
        env: { NATS_URL: stack.natsUrl, MAAS_NAMESPACE: stack.namespace, LOG_LEVEL: 'info' },
      }),
    );
    sim = startNode('dist/cli/main.js', {}, ['mdx-sim', '--config', path.join(dir, 'mdx-sim.json'), '--port', '0', '--log-dir', dir]);
    simUrl = String((await sim.waitFor((r) => r.event === 'listening', 30_000, 'mdx-sim listening')).url);
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
    scaler = await startService('vm-scaler', {
      ...stack.env,
      SCALING_PROVIDER: 'mdx',
      SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
      SCALING_TICK_MS: '500ms',
      SCALING_METRIC_MAX_AGE_MS: '3s',
      SCALING_MDX_URL: simUrl,
      SCALING_MDX_PROJECT: 'proj-e2e',
      SCALING_MDX_USERNAME: USER.username,
      SCALING_MDX_PASSWORD: USER.password,
      SCALING_MDX_POOLS: JSON.stringify({ [PROFILE]: { model: MODEL, vms: ['mdx-vm-1', 'mdx-vm-2'] } }),
      SCALING_MDX_POLL_MS: '300ms',
      SCALING_BOOT_TIMEOUT_MS: '20s',
      SCALING_STOP_GRACE_MS: '60s',
    });
  });

  afterAll(async () => {
    await scaler?.stop();
    await sim?.stop();
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('powers on a VM for demand, replaces a failed boot, serves a chat through its launched worker, and shuts it down when demand goes', async () => {
    const from = new Date().toISOString();
    // the provider logged in at start-up; idle past the token's lifetime before any demand
    await waitUntil(async () => (await simStats()).logins >= 1 || undefined, 10_000, 'the provider logging in');
    await sleep(TOKEN_TTL_S * 1000 + 500);

    // demand for one replica: mdx-vm-1 is powered on first; its guest never starts a worker
    const failed = await holdDemand(
      5,
      async () => (await rows<{ reason: string }>("SELECT reason FROM vms WHERE vm_id = 'mdx-vm-1' AND state = 'failed'"))[0],
      60_000,
      'the failed boot of mdx-vm-1 recorded',
    );
    expect(failed.reason).toMatch(/^no worker registered ready within 20 s of power_on \(PowerON for \d+ s\)$/);
    // the expired token was renewed rather than failing the power-on
    const stats = await simStats();
    expect(stats.logins).toBeGreaterThanOrEqual(2);

    // another VM of the pool is powered on; its template launches the worker, which registers
    const reg = (await holdDemand(5, () => registeredReady('mdx-vm-2'), 60_000, 'the worker of mdx-vm-2 registered ready'))
      .body as unknown as WorkerRegistered;
    expect(reg).toMatchObject({ workerId: 'mdx-vm-2', vmId: 'mdx-vm-2', runtime: { kind: 'sim-engine' }, models: [{ id: MODEL }] });
    await holdDemand(
      5,
      async () => (await rows("SELECT 1 FROM vms WHERE vm_id = 'mdx-vm-2' AND state = 'ready'")).length > 0,
      10_000,
      'mdx-vm-2 ready in the vms table',
    );
    const vm1 = (await simVms()).find((v) => v.id === 'mdx-vm-1')!;
    expect([vm1.status, vm1.failedBoots]).toEqual(['PowerOFF', 1]);
    expect(seen.some((e) => e.name === 'worker.registered' && e.body.vmId === 'mdx-vm-1')).toBe(false);

    // a chat through the gateway is answered by that worker
    const key = await stack.createKey({ name: 'mdx' });
    await stack.gateway.waitFor((r) => r.msg === 'worker joined' && r.workerId === 'mdx-vm-2', 20_000, 'the gateway learning mdx-vm-2');
    const res = await stack.post('/v1/chat/completions', key.secret, {
      model: MODEL,
      messages: [{ role: 'user', content: 'Hello from mdx' }],
      max_tokens: 12,
    });
    const body = (await res.json()) as { choices?: { message: { content: string } }[]; usage?: { completion_tokens: number } };
    expect(res.status).toBe(200);
    expect(body.choices?.[0].message.content.length).toBeGreaterThan(0);
    expect(body.usage?.completion_tokens).toBe(12);

    // demand goes: the guest shutdown drains the worker, which deregisters, and the VM is PowerOFF
    await holdDemand(
      0,
      async () => (await rows("SELECT 1 FROM vms WHERE vm_id = 'mdx-vm-2' AND state = 'stopped'")).length > 0,
      60_000,
      'mdx-vm-2 stopped',
    );
    const states = await rows<{ state: string; reason: string }>("SELECT state, reason FROM vms WHERE vm_id = 'mdx-vm-2'");
    expect(states[0].reason).toBe('VM shut down (PowerOFF)');
    expect((await simVms()).map((v) => [v.id, v.status])).toEqual([
      ['mdx-vm-1', 'PowerOFF'],
      ['mdx-vm-2', 'PowerOFF'],
    ]);
    const draining = seen.find((e) => e.name === 'worker.draining' && e.body.workerId === 'mdx-vm-2');
    const gone = seen.find((e) => e.name === 'worker.deregistered' && e.body.workerId === 'mdx-vm-2');
    expect(draining).toBeDefined();
    expect(gone?.body.reason).toBe('shutdown');
    const log = fs.readFileSync(path.join(dir, 'mdx-vm-2.log'), 'utf8');
    expect(log).toMatch(/"msg":"drained"/);
    // the token never appears in the scaler's log
    expect(scaler!.lines.join('\n')).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);

    // every decision of the run replays identically from PostgreSQL
    const to = new Date().toISOString();
    const decided = await rows<{ n: number }>('SELECT count(*)::int AS n FROM scaling_decisions WHERE decided_at BETWEEN $1 AND $2', [
      from,
      to,
    ]);
    const replayed = await run(
      process.execPath,
      [path.join(projectRoot(), 'dist', 'cli', 'main.js'), 'scaling', 'replay', '--from', from, '--to', to, '--db'],
      {
        cwd: projectRoot(),
        env: { ...process.env, ...stack.env },
        maxBuffer: 16 << 20,
      },
    ).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
    expect(`${replayed.stdout}${replayed.stderr}`).toMatch(new RegExp(`^${decided[0].n} decisions replayed: all identical$`, 'm'));
  }, 240_000);
});
