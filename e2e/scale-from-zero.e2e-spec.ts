import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '@maas/platform';
import { zeroReplicaSpec } from './support/scaling-spec';
import { startService, StartedService } from '@maas/testing';
import { chatBody, MODEL, PROFILE, Stack, waitUntil } from '../services/gateway/test/support/stack';

const run = promisify(execFile);

/** The simulated runtime's load time: what a request for a model at zero waits for, plus the worker's own start. */
const STARTUP_DELAY_MS = 3000;

const spec = zeroReplicaSpec(2);

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
 * Scale from zero, for real: the gateway learns the vm-scaler's catalogue, holds a chat for the model
 * no worker serves, reports it as pending demand; the vm-scaler starts a `maas worker` process at once,
 * the held request is answered 200 when it registers, and once idle the worker drains and stops again.
 */
describe('scale from zero: a request for a catalogue model at zero replicas is held and answered', () => {
  const stack = new Stack({ GATEWAY_HOLD_TIMEOUT: '120s' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-from-zero-'));
  let collector: StartedService | undefined;
  let scaler: StartedService | undefined;

  const vms = () => stack.db.query<VmRow>('SELECT vm_id, state, reason, requested_at, ready_at FROM vms ORDER BY vm_id');
  const diagnostics = () =>
    [
      ...fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-6).join('\n')}`),
      `--- vm-scaler\n${scaler?.lines.slice(-15).join('\n')}`,
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
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
    collector = await startService('metrics-collector', { ...stack.env, METRICS_INTERVAL_MS: '1s', METRICS_LATENESS_MS: '500ms' });
    scaler = await startService('vm-scaler', {
      ...stack.env,
      SCALING_PROVIDER: 'local',
      SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
      SCALING_TICK_MS: '1s',
      SCALING_METRIC_MAX_AGE_MS: '5s',
      SCALING_WORKER_ARGS: `--sim-profile {vmType} --sim-model {model} --sim-startup-delay ${STARTUP_DELAY_MS}ms --heartbeat 500ms`,
      SCALING_LOG_DIR: dir,
      SCALING_BOOT_TIMEOUT_MS: '90s',
      SCALING_STOP_GRACE_MS: '5m',
    });
  });

  afterAll(async () => {
    await scaler?.stop();
    await collector?.stop();
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists the model at zero, holds a chat while a worker starts, answers it 200, and drains back to zero', async () => {
    const key = await stack.createKey({ name: 'from-zero' });
    const listed = async () =>
      ((await (await fetch(stack.url('/v1/models'), { headers: { authorization: `Bearer ${key.secret}` } })).json()) as Listed).data.find(
        (m) => m.id === MODEL,
      );
    const from = new Date(Date.now() - 1000).toISOString();

    // the catalogue reaches the gateway with no worker anywhere
    const atZero = await waitUntil(
      async () => (await listed())?.metadata.state === 'scaled_to_zero' && (await listed()),
      30_000,
      `the model listed at zero\n${diagnostics()}`,
    );
    expect(atZero).toMatchObject({ metadata: { state: 'scaled_to_zero', ready_workers: 0 } });
    expect(await vms()).toEqual([]);

    const sentAt = Date.now();
    const res = await stack.post('/v1/chat/completions', key.secret, chatBody({ max_tokens: 4 }));
    const firstByteMs = Date.now() - sentAt;
    const body = (await res.json()) as { choices?: unknown[]; error?: unknown };
    expect({ status: res.status, error: body.error }).toEqual({ status: 200, error: undefined });
    expect(body.choices).toHaveLength(1);

    const started = await vms();
    expect(started).toHaveLength(1);
    const bootMs = started[0].ready_at!.getTime() - started[0].requested_at.getTime();
    const decidedAfterMs = started[0].requested_at.getTime() - sentAt;
    process.stdout.write(
      `scale from zero: request → first byte ${firstByteMs} ms; request → start decision ${decidedAfterMs} ms; worker start → ready ${bootMs} ms; runtime load time ${STARTUP_DELAY_MS} ms\n`,
    );
    // the wait is the worker's start (the runtime's load time within it), never less
    expect(firstByteMs).toBeGreaterThanOrEqual(STARTUP_DELAY_MS);

    // idle: the worker drains and exits by itself; the model is listed at zero again
    const stopped = await waitUntil(
      async () => ((await vms()).every((v) => v.state === 'stopped') ? vms() : undefined),
      120_000,
      `the node stopped\n${diagnostics()}`,
    );
    expect(stopped.map((v) => v.reason)).toEqual(['worker exited with code 0']);
    await waitUntil(async () => (await listed())?.metadata.state === 'scaled_to_zero', 30_000, 'the model listed at zero after the drain');
    const to = new Date().toISOString();

    // every decision of the window replays identically (the held request's demand is in the recorded observations)
    const replayed = await maas(['scaling', 'replay', '--from', from, '--to', to, '--db']);
    expect(`${replayed.stdout}${replayed.stderr}`).toMatch(/^\d+ decisions replayed: all identical$/m);
  }, 300_000);

  it('answers 404 for a model outside the catalogue that no worker serves', async () => {
    const key = await stack.createKey({ name: 'not-found' });
    const res = await stack.post('/v1/chat/completions', key.secret, chatBody({ model: 'org/not-managed' }));
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
  });
});
