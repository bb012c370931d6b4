import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { JSONCodec } from 'nats';
import { projectRoot } from '@maas/platform';
import { zeroReplicaSpec } from './support/scaling-spec';
import { startNode, StartedProcess, startService, StartedService } from '@maas/testing';
import { chatBody, MODEL, PROFILE, Stack, waitUntil } from '../services/gateway/test/support/stack';

const run = promisify(execFile);
const USER = { username: 'maas-scaler', password: 'e2e-password-1' };

/** The launched runtime's load time inside the VM: part of what a request for a model at zero waits for. */
const STARTUP_DELAY_MS = 2000;

const spec = zeroReplicaSpec(1);

interface VmRow {
  vm_id: string;
  state: string;
  reason: string | null;
  requested_at: Date;
  ready_at: Date | null;
}

interface Listed {
  data: { id: string; metadata: { state: string; ready_workers: number } }[];
}

/**
 * Scale from zero on the research cloud, with the mdx API simulated: the model is in the vm-scaler's
 * catalogue with no VM running; a chat is held by the gateway and reported as pending demand (no
 * demand is injected by the test); the mdx provider powers on a pool VM of `maas mdx-sim`, whose
 * template runs `maas worker --launch sim-engine`; the held chat is answered when that worker
 * registers; once idle the worker drains, the VM is shut down, and every decision replays identically.
 */
describe('scale from zero on mdx: a held request powers on a VM whose launched worker answers it', () => {
  const stack = new Stack({ GATEWAY_HOLD_TIMEOUT: '120s' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-mdx-from-zero-'));
  let sim: StartedProcess | undefined;
  let simUrl = '';
  let collector: StartedService | undefined;
  let scaler: StartedService | undefined;
  const seen: { name: string; at: number; body: Record<string, unknown> }[] = [];

  const vms = () => stack.db.query<VmRow>('SELECT vm_id, state, reason, requested_at, ready_at FROM vms ORDER BY vm_id');
  const simVms = async () => (await (await fetch(`${simUrl}/_sim/vms`)).json()) as { id: string; status: string }[];
  const diagnostics = () =>
    [
      ...fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-8).join('\n')}`),
      `--- mdx-sim\n${sim?.lines.slice(-5).join('\n')}`,
      `--- vm-scaler\n${scaler?.lines.slice(-20).join('\n')}`,
      `--- gateway\n${stack.gateway?.lines.slice(-10).join('\n')}`,
    ].join('\n');
  const maas = (args: string[]) =>
    run(process.execPath, [path.join(projectRoot(), 'bin', 'maas.js'), ...args], {
      cwd: projectRoot(),
      env: { ...process.env, ...stack.env },
      maxBuffer: 16 << 20,
    }).catch((err: { stdout?: string; stderr?: string; code?: number }) => ({
      stdout: err.stdout ?? '',
      stderr: `${err.stderr ?? ''} (exit ${err.code})`,
    }));

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
      `${STARTUP_DELAY_MS}ms`,
    ];
    fs.writeFileSync(
      path.join(dir, 'mdx-sim.json'),
      JSON.stringify({
        users: [USER],
        tokenTtlSeconds: 300,
        seed: 7,
        bootSeconds: { kind: 'uniform', min: 1, max: 2 },
        bootFailureRate: 0,
        powerOffSeconds: 0.5,
        shutdownTimeoutSeconds: 60,
        rateLimit: { requestsPerSecond: 10, burst: 20 },
        projects: [{ id: 'proj-e2e', vms: [{ id: 'mdx-vm-1', worker }] }],
        maasCommand: [process.execPath, path.join(projectRoot(), 'dist', 'cli', 'main.js')],
        env: { NATS_URL: stack.natsUrl, MAAS_NAMESPACE: stack.namespace, LOG_LEVEL: 'info' },
      }),
    );
    sim = startNode('dist/cli/main.js', {}, ['mdx-sim', '--config', path.join(dir, 'mdx-sim.json'), '--port', '0', '--log-dir', dir]);
    simUrl = String((await sim.waitFor((r) => r.event === 'listening', 30_000, 'mdx-sim listening')).url);
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
    collector = await startService('metrics-collector', { ...stack.env, METRICS_INTERVAL_MS: '1s', METRICS_LATENESS_MS: '500ms' });
    scaler = await startService('vm-scaler', {
      ...stack.env,
      SCALING_PROVIDER: 'mdx',
      SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
      SCALING_TICK_MS: '500ms',
      SCALING_METRIC_MAX_AGE_MS: '5s',
      SCALING_MDX_URL: simUrl,
      SCALING_MDX_PROJECT: 'proj-e2e',
      SCALING_MDX_USERNAME: USER.username,
      SCALING_MDX_PASSWORD: USER.password,
      SCALING_MDX_POOLS: JSON.stringify({ [PROFILE]: { model: MODEL, vms: ['mdx-vm-1'] } }),
      SCALING_MDX_POLL_MS: '300ms',
      SCALING_BOOT_TIMEOUT_MS: '60s',
      SCALING_STOP_GRACE_MS: '60s',
    });
  });

  afterAll(async () => {
    await scaler?.stop();
    await collector?.stop();
    await sim?.stop();
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists the model at zero, powers on a VM for a held chat, answers it 200, and shuts the VM down when idle', async () => {
    const key = await stack.createKey({ name: 'mdx-from-zero' });
    const listed = async () =>
      ((await (await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${key.secret}` } })).json()) as Listed).data.find(
        (m) => m.id === MODEL,
      );
    const from = new Date(Date.now() - 1000).toISOString();

    // the catalogue reaches the gateway while every VM of the pool is off
    await waitUntil(
      async () => (await listed())?.metadata.state === 'scaled_to_zero',
      30_000,
      `the model listed at zero\n${diagnostics()}`,
    );
    expect(await vms()).toEqual([]);
    expect((await simVms()).map((v) => [v.id, v.status])).toEqual([['mdx-vm-1', 'PowerOFF']]);

    // the only demand is this held request
    const sentAt = Date.now();
    const res = await stack.post('/v1/chat/completions', key.secret, chatBody({ max_tokens: 4 }));
    const firstByteMs = Date.now() - sentAt;
    const body = (await res.json()) as { choices?: unknown[]; error?: unknown };
    expect({ status: res.status, error: body.error }).toEqual({ status: 200, error: undefined });
    expect(body.choices).toHaveLength(1);

    // the VM is marked ready when the vm-scaler hears its worker registered, which may come just after the answer
    const started = await waitUntil(
      async () => ((await vms()).every((v) => v.ready_at !== null) ? vms() : undefined),
      30_000,
      `mdx-vm-1 marked ready\n${diagnostics()}`,
    );
    expect(started.map((v) => v.vm_id)).toEqual(['mdx-vm-1']);
    const registered = seen.find((e) => e.name === 'worker.registered' && e.body.vmId === 'mdx-vm-1');
    expect(registered?.body).toMatchObject({ workerId: 'mdx-vm-1', runtime: { kind: 'sim-engine' } });
    const decidedAfterMs = started[0].requested_at.getTime() - sentAt;
    const powerOnToReadyMs = started[0].ready_at!.getTime() - started[0].requested_at.getTime();
    process.stdout.write(
      `scale from zero on mdx: request → first byte ${firstByteMs} ms; request → power-on decision ${decidedAfterMs} ms; ` +
        `power-on → worker ready ${powerOnToReadyMs} ms; runtime load time ${STARTUP_DELAY_MS} ms\n`,
    );
    // the wait covers the VM's boot and the runtime's load, never less
    expect(firstByteMs).toBeGreaterThanOrEqual(STARTUP_DELAY_MS);

    // idle: the worker drains, deregisters, and the VM is shut down
    const stopped = await waitUntil(
      async () => ((await vms()).every((v) => v.state === 'stopped') ? vms() : undefined),
      120_000,
      `the VM stopped\n${diagnostics()}`,
    );
    expect(stopped.map((v) => v.reason)).toEqual(['VM shut down (PowerOFF)']);
    expect((await simVms()).map((v) => [v.id, v.status])).toEqual([['mdx-vm-1', 'PowerOFF']]);
    expect(seen.some((e) => e.name === 'worker.draining' && e.body.workerId === 'mdx-vm-1')).toBe(true);
    expect(seen.find((e) => e.name === 'worker.deregistered' && e.body.workerId === 'mdx-vm-1')?.body.reason).toBe('shutdown');
    await waitUntil(
      async () => (await listed())?.metadata.state === 'scaled_to_zero',
      30_000,
      'the model listed at zero after the shutdown',
    );
    const to = new Date().toISOString();

    // every decision of the window replays identically (the held request's demand is in the recorded observations)
    const replayed = await maas(['scaling', 'replay', '--from', from, '--to', to, '--db']);
    expect(`${replayed.stdout}${replayed.stderr}`).toMatch(/^\d+ decisions replayed: all identical$/m);
  }, 300_000);
});
