import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { connect, JSONCodec } from 'nats';
import { Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { projectRoot } from '@maas/platform';
import {
  createTestDatabase,
  deleteStreams,
  factory,
  startNode,
  StartedProcess,
  startService,
  StartedService,
  testNamespace,
  testNatsUrl,
} from '@maas/testing';
import { repoRoot } from '../lib/report';
import type { RateSeries } from '../scaling/traces';
import type { FleetHostConfig } from './fleet-host';
import { loadAverage, ProcSampler } from './proc-sampler';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const MODEL = 'Qwen/Qwen2.5-3B-Instruct';
export const PROFILE = 'a100-qwen2.5-3b';
export const VM_TYPE = 'gpu-a100';
const PROJECT = 'proj-fleet';
const USER = { username: 'maas-scaler', password: 'fleet-bench-password' };
/** Services started as they run in production (dist/services/<name>); the rest are stand-ins. */
export const SERVICES = ['router', 'key-registry', 'gateway', 'metrics-collector', 'forecaster', 'vm-scaler'] as const;
export const STAND_INS = ['fleet-host', 'sim-engine'] as const;

export interface FleetRunSpec {
  readonly label: string;
  readonly vms: number;
  readonly workersPerVm: number;
  /** Pool VMs beyond `vms`, powered on when a boot fails (the planner never wants more than `vms`). */
  readonly spareVms: number;
  /** Wall-clock minutes the series' day is replayed in. */
  readonly minutes: number;
  readonly series: RateSeries;
  /** Index of the series step the day starts at. */
  readonly dayStart: number;
  /** Usage events per second at the day's peak; one replica serves peak / (vms × workers per VM). */
  readonly peakRps: number;
  readonly tickMs: number;
  readonly metricsIntervalMs: number;
  readonly boot: { readonly min: number; readonly max: number };
  readonly bootFailureRate: number;
  readonly bootTimeoutMs: number;
  readonly mdxPollMs: number;
  readonly mdxRateLimit: { readonly requestsPerSecond: number; readonly burst: number } | null;
  readonly chatPerSecond: number;
  readonly chatMaxTokens: number;
  readonly engineTimeScale: number;
  readonly seed: number;
  readonly progress: (line: string) => void;
}

export interface ChatSample {
  readonly at: number;
  readonly ms: number;
  readonly status: number;
  readonly workers: number;
}

export interface TimelinePoint {
  readonly t: number;
  readonly demandRps: number;
  readonly workers: number;
  readonly vmsOn: number;
  readonly messagesPerSecond: number;
  readonly heartbeatsPerSecond: number;
}

export interface DecisionRow {
  readonly decidedAt: number;
  readonly receivedAt: number | undefined;
  readonly actions: number;
  readonly targetReplicas: number;
}

export interface FleetRunResult {
  readonly label: string;
  readonly spec: Omit<FleetRunSpec, 'series' | 'progress'>;
  readonly loadAverage: { readonly start: number; readonly end: number };
  readonly wallSeconds: number;
  readonly peakWorkers: number;
  readonly peakVmsOn: number;
  /** The window where at least 90 % of the peak workers heartbeat (ms since the epoch). */
  readonly peakWindow: { readonly from: number; readonly to: number };
  readonly timeline: readonly TimelinePoint[];
  readonly chat: readonly ChatSample[];
  readonly decisions: readonly DecisionRow[];
  readonly cpu: Readonly<Record<string, { readonly whole: number; readonly peak: number; readonly peakRssBytes: number }>>;
  readonly messagesPerSecondPeak: number;
  readonly heartbeatsPerSecondPeak: number;
  readonly powerOnToFirstRouted: readonly number[];
  readonly vmsLaunched: number;
  readonly sim: {
    readonly powerOns: number;
    readonly bootFailures: number;
    readonly rateLimited: number;
    readonly requests: number;
    readonly guestsKilled: number;
  };
  /** From vm.state-changed: boots that ended failed, and how many were followed by another VM's boot becoming ready. */
  readonly vmEvents: {
    readonly readyBoots: number;
    readonly failedBoots: number;
    readonly recovered: number;
    readonly recoverySeconds: readonly number[];
    readonly failedWhileServing: number;
    readonly stopped: number;
  };
  readonly replay: { readonly identical: boolean; readonly decisions: number; readonly line: string };
  readonly gatewayDispatch: { readonly p99UpperBoundSeconds: number | undefined; readonly count: number };
}

function fleetSimConfig(spec: FleetRunSpec, env: Record<string, string>): unknown {
  return {
    users: [USER],
    tokenTtlSeconds: 300,
    seed: spec.seed,
    bootSeconds: { kind: 'uniform', min: spec.boot.min, max: spec.boot.max },
    bootFailureRate: spec.bootFailureRate,
    bootFailureMode: 'guest-hangs',
    powerOffSeconds: 1,
    shutdownTimeoutSeconds: 30,
    rateLimit: spec.mdxRateLimit,
    projects: [
      { id: PROJECT, vms: [{ id: 'fleet-{n}', count: spec.vms + spec.spareVms, worker: ['--launch', 'sim-engine', '--model', MODEL] }] },
    ],
    env,
  };
}

/** The vm-scaler's spec: one replica per worker, `workersPerVm` replicas on a VM, at most `vms` VMs. */
function scalingSpec(spec: FleetRunSpec, replicaRps: number, bootSeconds: number): unknown {
  const replicas = spec.vms * spec.workersPerVm;
  return {
    replicas: { stableWindowSeconds: 6, panicWindowSeconds: 2, scaleToZeroGracePeriodSeconds: 5 },
    capacity: {
      vmTypes: [
        { name: VM_TYPE, accelerator: 'gpu', costPerHour: 1, bootSeconds, slots: { [MODEL]: spec.workersPerVm }, maxCount: spec.vms },
      ],
      maxVms: spec.vms,
      bootMarginSeconds: 0,
      forecastBand: 'off',
      scaleDownDelaySeconds: 5,
      scaleDownHysteresis: 0,
      minDrainSeconds: 1,
    },
    models: {
      [MODEL]: {
        metric: 'rps',
        replicaRequestsPerSecond: replicaRps,
        targetUtilization: 1,
        maxUtilization: 1,
        minReplicas: 1,
        maxReplicas: replicas,
      },
    },
  };
}

/** Upper bound of the bucket holding the p99 of a Prometheus histogram (cumulative `_bucket` lines). */
function histogramP99(text: string, name: string): { p99UpperBoundSeconds: number | undefined; count: number } {
  const buckets: [number, number][] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(line);
    if (m) buckets.push([m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2])]);
  }
  const count = buckets.length ? buckets[buckets.length - 1][1] : 0;
  const hit = buckets.find(([, c]) => c >= 0.99 * count);
  return { p99UpperBoundSeconds: count > 0 ? hit?.[0] : undefined, count };
}

/** One run: the platform's services, the simulated cloud and its light workers, a compressed day of demand. */
export async function runFleet(spec: FleetRunSpec): Promise<FleetRunResult> {
  const log = (s: string) => spec.progress(`[${spec.label}] ${s}`);
  const loadStart = loadAverage();
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  const natsUrl = testNatsUrl();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-fleet-'));
  const db = await createTestDatabase('fleet');
  const nc = await connect({ servers: natsUrl, name: 'bench-fleet', maxReconnectAttempts: -1 });
  const bus = new MessageBus(nc, subjects);
  await bus.ensureStreams();
  const env = { NATS_URL: natsUrl, MAAS_NAMESPACE: namespace, DATABASE_URL: db.url, MAAS_NATS_INSECURE: '1' };
  const standIns = new Map<string, StartedProcess>();
  const services = new Map<string, StartedService>();
  const stopAll = async () => {
    for (const s of [...services.values()].reverse()) await s.stop().catch(() => undefined);
    for (const p of [...standIns.values()].reverse()) await p.stop().catch(() => undefined);
    // every process's log, to explain what the tables show
    const logs = path.join(repoRoot(), 'artifacts', 'bench', 'fleet-logs', spec.label.replace(/[^\w.-]+/g, '-'));
    fs.mkdirSync(logs, { recursive: true });
    for (const [name, s] of services) fs.writeFileSync(path.join(logs, `${name}.log`), `${s.lines.join('\n')}\n`);
    for (const [name, p] of standIns) fs.writeFileSync(path.join(logs, `${name}.log`), `${p.lines.join('\n')}\n`);
  };

  // traffic of this run's namespace, as the bench sees it
  let messages = 0;
  let heartbeats = 0;
  const lastBeat = new Map<string, number>();
  const decidedAt = new Map<string, number>();
  const json = JSONCodec<Record<string, unknown>>();
  nc.subscribe(`${namespace}.>`, { callback: () => (messages += 1) });
  nc.subscribe(subjects.subject('worker.heartbeat'), {
    callback: (_e, m) => {
      heartbeats += 1;
      lastBeat.set(m.subject.slice(m.subject.lastIndexOf('.') + 1), Date.now());
    },
  });
  nc.subscribe(subjects.subject('worker.deregistered'), {
    callback: (_e, m) => lastBeat.delete(m.subject.slice(m.subject.lastIndexOf('.') + 1)),
  });
  const transitions: { from: string; to: string; at: number }[] = [];
  nc.subscribe(subjects.subject('vm.state-changed'), {
    callback: (_e, m) => {
      const t = json.decode(m.data);
      transitions.push({ from: String(t.from), to: String(t.to), at: Date.now() });
    },
  });
  nc.subscribe(subjects.subject('scaling.decided'), {
    callback: (_e, m) => {
      const id = json.decode(m.data).decisionId;
      if (typeof id === 'string') decidedAt.set(id, Date.now());
    },
  });

  try {
    log('starting the shared runtime, the simulated cloud and the services');
    const engine = startNode('dist/cli/main.js', {}, [
      'sim-engine',
      '--profile',
      PROFILE,
      '--model',
      MODEL,
      '--port',
      '0',
      '--time-scale',
      String(spec.engineTimeScale),
    ]);
    standIns.set('sim-engine', engine);
    const engineUrl = String((await engine.waitFor((r) => r.event === 'ready', 30_000, 'sim-engine ready')).url);

    const hostConfig: FleetHostConfig = {
      sim: fleetSimConfig(spec, env),
      guests: {
        natsUrl,
        namespace,
        runtimeUrl: engineUrl,
        model: MODEL,
        workersPerVm: spec.workersPerVm,
        capacity: 8,
        heartbeatMs: 1000,
        registerEveryMs: 10_000,
        drainTimeoutMs: 5000,
      },
    };
    fs.writeFileSync(path.join(dir, 'fleet-host.json'), JSON.stringify(hostConfig));
    const host = startNode('dist/bench/fleet/fleet-host.js', env, ['--config', path.join(dir, 'fleet-host.json')]);
    standIns.set('fleet-host', host);
    const simUrl = String((await host.waitFor((r) => r.event === 'listening', 30_000, 'fleet-host listening')).url);

    const vmIds = Array.from(
      { length: spec.vms + spec.spareVms },
      (_, k) => `fleet-${String(k + 1).padStart(Math.max(3, String(spec.vms + spec.spareVms).length), '0')}`,
    );
    const stepWallMs =
      (spec.minutes * 60_000) / Math.min(spec.series.rates.length - spec.dayStart, Math.round(86_400 / spec.series.stepSeconds));
    const steps = Math.round((spec.minutes * 60_000) / stepWallMs);
    const rates = Array.from({ length: steps }, (_, k) => spec.series.rates[spec.dayStart + k]).map((r) => (Number.isFinite(r) ? r : 0));
    const peak = Math.max(...rates);
    const scale = spec.peakRps / peak;
    const replicaRps = spec.peakRps / (spec.vms * spec.workersPerVm);
    fs.writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(scalingSpec(spec, replicaRps, (spec.boot.min + spec.boot.max) / 2)));

    for (const name of ['router', 'key-registry'] as const) services.set(name, await startService(name, env));
    services.set('gateway', await startService('gateway', { ...env, GATEWAY_WORKER_EXPIRY: '5s' }));
    services.set(
      'metrics-collector',
      await startService('metrics-collector', {
        ...env,
        METRICS_INTERVAL_MS: `${spec.metricsIntervalMs}ms`,
        METRICS_LATENESS_MS: `${Math.round(spec.metricsIntervalMs / 2)}ms`,
      }),
    );
    services.set('forecaster', await startService('forecaster', env));
    services.set(
      'vm-scaler',
      await startService('vm-scaler', {
        ...env,
        SCALING_PROVIDER: 'mdx',
        SCALING_SPEC_FILE: path.join(dir, 'spec.json'),
        SCALING_TICK_MS: `${spec.tickMs}ms`,
        SCALING_METRIC_MAX_AGE_MS: `${spec.metricsIntervalMs * 4}ms`,
        SCALING_MDX_URL: simUrl,
        SCALING_MDX_PROJECT: PROJECT,
        SCALING_MDX_USERNAME: USER.username,
        SCALING_MDX_PASSWORD: USER.password,
        SCALING_MDX_POOLS: JSON.stringify({ [VM_TYPE]: { model: MODEL, vms: vmIds } }),
        SCALING_MDX_POLL_MS: `${spec.mdxPollMs}ms`,
        SCALING_BOOT_TIMEOUT_MS: `${spec.bootTimeoutMs}ms`,
        SCALING_STOP_GRACE_MS: '30s',
        SCALING_MDX_FAILED_VM_HOLD_MS: '10m',
      }),
    );
    const pids = new Map<string, number>();
    for (const [name, s] of services) pids.set(name, s.child.pid!);
    pids.set('fleet-host', host.child.pid!);
    pids.set('sim-engine', engine.child.pid!);
    const sampler = new ProcSampler(pids);
    const created = await bus.request('key-registry.create', { userEmail: 'fleet@example.org', name: 'fleet-bench' });
    const secret = created.secret;
    const gatewayUrl = services.get('gateway')!.url;

    // what the simulated cloud reports: PowerON (a guest launched) and the first request routed to it
    const launchedAt = new Map<string, number>();
    const firstRouted: number[] = [];
    let simStats: FleetRunResult['sim'] = { powerOns: 0, bootFailures: 0, rateLimited: 0, requests: 0, guestsKilled: 0 };
    let vmsOn = 0;
    let seenLines = 0;
    const readHost = () => {
      for (; seenLines < host.lines.length; seenLines++) {
        let r: Record<string, unknown>;
        try {
          r = JSON.parse(host.lines[seenLines]) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (r.event === 'launched') {
          launchedAt.set(String(r.vmId), Number(r.at));
          vmsOn += 1;
        } else if (r.event === 'ended') vmsOn -= 1;
        else if (r.event === 'first-request' && launchedAt.has(String(r.vmId)))
          firstRouted.push(Number(r.at) - launchedAt.get(String(r.vmId))!);
        else if (r.event === 'stats') {
          const s = r.sim as Record<string, number>;
          const f = r.fleet as Record<string, number>;
          simStats = {
            powerOns: f.powerOns,
            bootFailures: f.bootFailures,
            rateLimited: s.rateLimited,
            requests: s.requests,
            guestsKilled: f.guestsKilled,
          };
        }
      }
    };

    log(
      `replaying ${steps} steps of ${spec.series.stepSeconds} s, ${(stepWallMs / 1000).toFixed(2)} s each; peak ${spec.peakRps} events/s needs ${spec.vms} VMs × ${spec.workersPerVm} workers`,
    );
    const from = new Date().toISOString();
    const t0 = Date.now();
    const end = t0 + steps * stepWallMs;
    sampler.start(1000);

    // demand: the series as usage events, in batches as gateways send them (a stand-in for the traffic itself)
    let owed = 0;
    let batchSeq = 0;
    let demandNow = 0;
    const demand = (async () => {
      for (let now = Date.now(); now < end; now = Date.now()) {
        const k = Math.min(steps - 1, Math.floor((now - t0) / stepWallMs));
        demandNow = rates[k] * scale;
        owed += demandNow * 0.25;
        const n = Math.min(1024, Math.floor(owed));
        owed -= n;
        if (n > 0) {
          const at = new Date(now).toISOString();
          const records = Array.from({ length: n }, () => ({
            event: factory.requestCompleted({ model: MODEL, workerId: 'fleet-demand', startedAt: at, finishedAt: at }),
          }));
          await bus
            .persist('usage.requests-completed', { records }, `fleet-${namespace}-${(batchSeq += 1)}`)
            .catch((err: Error) => log(`usage batch not stored: ${err.message}`));
        }
        await sleep(Math.max(0, 250 - (Date.now() - now)));
      }
    })();

    // chat through the gateway at a steady pace, tagged with the workers heartbeating at the time
    const chat: ChatSample[] = [];
    const liveWorkers = () => {
      const cutoff = Date.now() - 3000;
      let n = 0;
      for (const at of lastBeat.values()) if (at >= cutoff) n += 1;
      return n;
    };
    const chats = (async () => {
      const every = 1000 / spec.chatPerSecond;
      for (let next = Date.now(); next < end; next += every) {
        await sleep(Math.max(0, next - Date.now()));
        const workers = liveWorkers();
        const began = performance.now();
        let status = 0;
        try {
          const res = await fetch(`${gatewayUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
            body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'How many VMs?' }], max_tokens: spec.chatMaxTokens }),
            signal: AbortSignal.timeout(30_000),
          });
          await res.arrayBuffer();
          status = res.status;
        } catch {
          status = 0;
        }
        chat.push({ at: Date.now(), ms: performance.now() - began, status, workers });
      }
    })();

    const timeline: TimelinePoint[] = [];
    let lastMessages = 0;
    let lastBeats = 0;
    let lastAt = Date.now();
    while (Date.now() < end) {
      await sleep(1000);
      readHost();
      const now = Date.now();
      const dt = (now - lastAt) / 1000;
      timeline.push({
        t: (now - t0) / 1000,
        demandRps: demandNow,
        workers: liveWorkers(),
        vmsOn,
        messagesPerSecond: (messages - lastMessages) / dt,
        heartbeatsPerSecond: (heartbeats - lastBeats) / dt,
      });
      lastMessages = messages;
      lastBeats = heartbeats;
      lastAt = now;
      if (timeline.length % 10 === 0) {
        const p = timeline[timeline.length - 1];
        log(
          `t ${p.t.toFixed(0)} s: demand ${p.demandRps.toFixed(1)} events/s, ${p.vmsOn} VMs on, ${p.workers} workers heartbeating, ${p.messagesPerSecond.toFixed(0)} msgs/s, load ${loadAverage().toFixed(1)}`,
        );
      }
    }
    await Promise.all([demand, chats]);
    sampler.stop();
    const to = new Date().toISOString();
    readHost();

    // the window at the fleet's peak: where at least 90 % of the most workers ever seen heartbeat
    const peakWorkers = Math.max(0, ...timeline.map((p) => p.workers));
    const inPeak = timeline.filter((p) => p.workers >= Math.max(1, 0.9 * peakWorkers));
    const window = inPeak.length ? { from: t0 + inPeak[0].t * 1000, to: t0 + inPeak[inPeak.length - 1].t * 1000 } : { from: t0, to: end };
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / (xs.length || Number.NaN);

    const metricsText = await fetch(`${gatewayUrl}/metrics`)
      .then((r) => r.text())
      .catch(() => '');
    const gatewayDispatch = histogramP99(metricsText, 'maas_gateway_dispatch_seconds');

    log('reading the decisions and replaying them');
    const rows = await db.query<{
      decision_id: string;
      decided_at: Date;
      decision: {
        replicas: Record<string, { desiredReplicas?: number }>;
        capacity: { starts: { count: number }[]; drains: unknown[]; stops: unknown[]; models: Record<string, { targetReplicas: number }> };
      };
    }>('SELECT decision_id, decided_at, decision FROM scaling_decisions ORDER BY decided_at');
    const decisions: DecisionRow[] = rows.map((r) => ({
      decidedAt: new Date(r.decided_at).getTime(),
      receivedAt: decidedAt.get(r.decision_id),
      actions:
        r.decision.capacity.starts.reduce((s, x) => s + x.count, 0) + r.decision.capacity.drains.length + r.decision.capacity.stops.length,
      targetReplicas: r.decision.capacity.models[MODEL]?.targetReplicas ?? 0,
    }));
    // each failed boot is recovered by the first later boot (of any VM) that became ready and recovered no other
    const failedBoots = transitions.filter((t) => t.from === 'booting' && t.to === 'failed');
    const readyBoots = transitions.filter((t) => t.from === 'booting' && t.to === 'ready');
    const recoverySeconds: number[] = [];
    let next = 0;
    for (const f of failedBoots) {
      while (next < readyBoots.length && readyBoots[next].at < f.at) next++;
      if (next >= readyBoots.length) break;
      recoverySeconds.push((readyBoots[next].at - f.at) / 1000);
      next++;
    }
    const replayed = await run(
      process.execPath,
      [path.join(projectRoot(), 'dist', 'cli', 'main.js'), 'scaling', 'replay', '--from', from, '--to', to, '--db'],
      {
        cwd: projectRoot(),
        env: { ...process.env, ...env },
        maxBuffer: 64 << 20,
      },
    ).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
    const text = `${replayed.stdout}${replayed.stderr}`;
    const line = /^(\d+) decisions replayed: .*$/m.exec(text);

    const cpu: Record<string, { whole: number; peak: number; peakRssBytes: number }> = {};
    // the samples either side of the window too: at a short peak the window may hold a single one
    for (const name of sampler.names())
      cpu[name] = {
        whole: sampler.cpu(name),
        peak: sampler.cpu(name, window.from - 1500, window.to + 1500),
        peakRssBytes: sampler.peakRss(name),
      };
    const peakPoints = timeline.filter((p) => p.t * 1000 + t0 >= window.from && p.t * 1000 + t0 <= window.to);
    const { series: _series, progress: _progress, ...runSpec } = spec;
    void _series;
    void _progress;
    return {
      label: spec.label,
      spec: runSpec,
      loadAverage: { start: loadStart, end: loadAverage() },
      wallSeconds: (Date.now() - t0) / 1000,
      peakWorkers,
      peakVmsOn: Math.max(0, ...timeline.map((p) => p.vmsOn)),
      peakWindow: window,
      timeline,
      chat,
      decisions,
      cpu,
      messagesPerSecondPeak: mean(peakPoints.map((p) => p.messagesPerSecond)),
      heartbeatsPerSecondPeak: mean(peakPoints.map((p) => p.heartbeatsPerSecond)),
      powerOnToFirstRouted: firstRouted,
      vmsLaunched: launchedAt.size,
      sim: simStats,
      vmEvents: {
        readyBoots: readyBoots.length,
        failedBoots: failedBoots.length,
        recovered: recoverySeconds.length,
        recoverySeconds,
        failedWhileServing: transitions.filter((t) => t.from === 'ready' && t.to === 'failed').length,
        stopped: transitions.filter((t) => t.to === 'stopped').length,
      },
      replay: {
        identical: /all identical/.test(line?.[0] ?? ''),
        decisions: Number(line?.[1] ?? 0),
        line: line?.[0] ?? text.trim().split('\n').slice(-3).join(' | '),
      },
      gatewayDispatch,
    };
  } finally {
    await stopAll();
    await deleteStreams(nc, namespace).catch(() => undefined);
    await nc.close();
    await db.drop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
