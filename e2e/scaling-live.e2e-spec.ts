import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '@maas/platform';
import { startService, StartedService } from '@maas/testing';
import { MODEL, PROFILE, Stack, waitUntil } from '../services/gateway/test/support/stack';

const run = promisify(execFile);

/**
 * The whole loop for real: `bench/serving.ts --mode ramp` sends streaming chat through the gateway;
 * usage flows over JetStream to the metrics-collector, whose aggregates drive the vm-scaler, whose
 * local provider starts and drains `maas worker` processes that register with the gateway. Then
 * `maas scaling replay` re-runs every recorded decision of that window.
 */
const spec = {
  replicas: { stableWindowSeconds: 6, panicWindowSeconds: 2, scaleToZeroGracePeriodSeconds: 1 },
  capacity: {
    vmTypes: [{ name: PROFILE, accelerator: 'gpu', costPerHour: 1, bootSeconds: 3, slots: { [MODEL]: 1 }, maxCount: 3 }],
    maxVms: 3,
    bootMarginSeconds: 0,
    forecastBand: 'off',
    scaleDownDelaySeconds: 3,
    scaleDownHysteresis: 0,
    minDrainSeconds: 1,
  },
  models: {
    [MODEL]: { metric: 'rps', replicaRequestsPerSecond: 3, targetUtilization: 1, maxUtilization: 1, minReplicas: 1, maxReplicas: 3 },
  },
};

/** The same inputs under a spec that gives each replica 4× the requests: replay must tell them apart. */
const roomierSpec = { ...spec, models: { [MODEL]: { ...spec.models[MODEL], replicaRequestsPerSecond: 12 } } };

interface VmRow {
  vm_id: string;
  state: string;
  reason: string | null;
}

describe('demand-driven capacity, live: serving load through the gateway, local worker processes, replay', () => {
  const stack = new Stack();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-live-scaling-'));
  let collector: StartedService | undefined;
  let scaler: StartedService | undefined;

  const rows = <T>(sql: string, params: unknown[] = []) => stack.db.query<T>(sql, params);
  const vms = () => rows<VmRow>('SELECT vm_id, state, reason FROM vms ORDER BY vm_id');
  const maas = (args: string[]) =>
    run(process.execPath, [path.join(projectRoot(), 'bin', 'maas.js'), ...args], {
      cwd: projectRoot(),
      env: { ...process.env, ...stack.env },
      maxBuffer: 16 << 20,
    }).catch((err: { stdout?: string; stderr?: string; code?: number }) => ({
      stdout: err.stdout ?? '',
      stderr: `${err.stderr ?? ''} (exit ${err.code})`,
    }));
  const diagnostics = () =>
    [
      ...fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, f), 'utf8').split('\n').slice(-6).join('\n')}`),
      `--- vm-scaler\n${scaler?.lines.slice(-15).join('\n')}`,
    ].join('\n');

  beforeAll(async () => {
    await stack.start();
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(spec));
    fs.writeFileSync(path.join(dir, 'roomier.json'), JSON.stringify(roomierSpec));
    collector = await startService('metrics-collector', { ...stack.env, METRICS_INTERVAL_MS: '1s', METRICS_LATENESS_MS: '500ms' });
    scaler = await startService('vm-scaler', {
      ...stack.env,
      SCALING_PROVIDER: 'local',
      SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
      SCALING_TICK_MS: '1s',
      SCALING_METRIC_MAX_AGE_MS: '5s',
      SCALING_WORKER_ARGS: '--sim-profile {vmType} --sim-model {model} --heartbeat 500ms',
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

  it('adds worker processes as the ramp rises, drains the surplus as it falls, fails no request, and replays identically', async () => {
    // minReplicas 1: the scaler brings up the first worker by itself
    await waitUntil(
      async () => (await vms()).filter((v) => v.state === 'ready').length === 1 || undefined,
      90_000,
      `the first node ready\n${diagnostics()}`,
    );
    const key = await stack.createKey({ name: 'ramp' });
    const from = new Date(Date.now() - 1000).toISOString();

    // 1 req/s, then 8 req/s (three replicas at 3 req/s each), then back to 1 req/s while two drain
    const bench = await run(
      process.execPath,
      [
        path.join(projectRoot(), 'dist', 'bench', 'serving.js'),
        '--mode',
        'ramp',
        '--url',
        stack.gateway.url,
        '--api-key',
        key.secret,
        '--model',
        MODEL,
        '--ramp',
        '1:8,8:30,1:30',
        '--output-tokens',
        '24',
        '--seed',
        '7',
      ],
      { cwd: projectRoot(), maxBuffer: 16 << 20 },
    ).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`the ramp failed requests:\n${err.stdout}\n${err.stderr}\n${diagnostics()}`);
    });
    expect(bench.stdout).toMatch(/requests, 0 failed/);
    const sent = Number(/(\d+) requests, 0 failed/.exec(bench.stdout)![1]);
    expect(sent).toBeGreaterThan(200);

    // the surplus drains and stops; the first stays
    const settled = await waitUntil(
      async () => {
        const all = await vms();
        return all.filter((v) => v.state === 'stopped').length >= 2 && all.filter((v) => v.state === 'ready').length === 1
          ? all
          : undefined;
      },
      90_000,
      `two nodes stopped\n${diagnostics()}`,
    );
    expect(settled.length).toBeGreaterThanOrEqual(3);
    // each stopped node's worker exited by itself after its drain: nothing was killed
    for (const v of settled.filter((x) => x.state === 'stopped')) expect(v.reason).toBe('worker exited with code 0');
    expect(settled.some((v) => v.state === 'failed')).toBe(false);
    const to = new Date().toISOString();

    // the decisions that did it: replicas up to 3 on demand, and back to 1
    const decided = await rows<{
      decision: {
        replicas: Record<string, { valid: boolean; desiredReplicas?: number }>;
        capacity: { starts: unknown[]; drains: unknown[] };
      };
    }>('SELECT decision FROM scaling_decisions WHERE decided_at BETWEEN $1 AND $2 ORDER BY decided_at', [from, to]);
    const replicas = decided
      .map((d) => d.decision.replicas[MODEL])
      .filter((r) => r.valid)
      .map((r) => r.desiredReplicas!);
    expect(Math.max(...replicas)).toBe(3);
    expect(replicas[replicas.length - 1]).toBe(1);
    expect(decided.filter((d) => d.decision.capacity.starts.length > 0).length).toBeGreaterThanOrEqual(1);
    expect(decided.filter((d) => d.decision.capacity.drains.length > 0).length).toBeGreaterThanOrEqual(1);

    // replay over that window, from the stream and from PostgreSQL: every decision identical
    for (const source of [[], ['--db']]) {
      const replayed = await maas(['scaling', 'replay', '--from', from, '--to', to, ...source]);
      expect(`${replayed.stdout}${replayed.stderr}`).toMatch(new RegExp(`^${decided.length} decisions replayed: all identical$`, 'm'));
    }
    // and another spec gives other decisions for the same inputs
    const other = await maas(['scaling', 'replay', '--from', from, '--to', to, '--spec', path.join(dir, 'roomier.json')]);
    expect(`${other.stdout}${other.stderr}`).toMatch(/decisions replayed: [1-9]\d* differ with /);
  }, 300_000);
});
