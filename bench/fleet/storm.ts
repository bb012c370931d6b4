/**
 * Registry storm: what a fleet's heartbeats and re-announcements cost the gateway and the router.
 *
 *   node scripts/run.js bench/fleet/storm.ts [--workers 1000] [--seconds 20] [--out PATH]
 *
 * Real router, key-registry and gateway from dist/ on PostgreSQL and NATS. This process plays
 * `--workers` workers on the bus (no runtime behind them: nothing is routed), in three phases:
 *   1. a storm: every worker registers at once, as after a NATS reconnect;
 *   2. steady: every worker heartbeats at 1 Hz (and re-announces every 10 s, as WorkerAgent does);
 *   3. a second storm while the heartbeats go on.
 * Measured: each service's event-loop delay max (`nodejs_eventloop_lag_max_seconds`, reset at every
 * scrape, scraped every second), how long until the gateway's replica holds every worker, CPU (of one
 * core) and RSS from /proc, and heap in use at the end. On a shared machine the delay max also holds
 * the time a process waited for a core, so the same storm is first applied in this process to the
 * gateway's WorkerRegistryService itself: the time it blocks the event loop when a whole storm
 * arrives in one read, and per heartbeat. Tables on stdout, JSON to artifacts/bench/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from 'nats';
import { defineArgs, parseArgv, runMain } from '@maas/cli-args';
import { loadConfig } from '@maas/config';
import { Logger } from '@maas/logging';
import { systemClock } from '@maas/platform';
import { Subjects, WorkerRegistered } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { createTestDatabase, deleteStreams, startService, StartedService, testNamespace, testNatsUrl } from '@maas/testing';
import { writeReport } from '../lib/report';
import { renderTable } from '../lib/table';
import { gatewayConfigSpec } from '../../services/gateway/src/gateway.config';
import type { RegistryRepository } from '../../services/gateway/src/repositories/registry.repository';
import { WorkerRegistryService } from '../../services/gateway/src/services/worker-registry.service';
import { MODEL } from './fleet-run';
import { ProcSampler } from './proc-sampler';

const spec = defineArgs({
  command: 'node scripts/run.js bench/fleet/storm.ts',
  description: 'Heartbeats and re-announcement storms of a fleet of workers against the real router and gateway.',
  options: {
    workers: { type: 'integer', min: 1, default: 1000, help: 'workers played on the bus' },
    seconds: { type: 'number', above: 0, default: 20, help: 'seconds of steady heartbeats between the storms' },
    out: { type: 'custom', parse: (file: string) => path.resolve(file), value: 'PATH', help: 'where the JSON goes' },
  },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const registration = (id: string, i: number): WorkerRegistered => ({
  workerId: id,
  url: `http://127.0.0.1:1/${id}`,
  hardware: 'gpu',
  capacity: 8,
  vmId: `vm-${Math.floor(i / 10)}`,
  runtime: { kind: 'sim-engine' },
  models: [{ id: MODEL, capabilities: ['chat', 'completion'] }],
  sentAt: new Date().toISOString(),
});

/**
 * The gateway's registry service in this process (no bus: only its replica and gauge work): the
 * milliseconds a storm of registrations blocks the event loop when it arrives in one read, then per
 * heartbeat of a full fleet, then a storm of re-announcements.
 */
function inProcess(ids: readonly string[]): { storm1Ms: number; heartbeatUs: number; storm2Ms: number } {
  const service = new WorkerRegistryService(
    loadConfig(gatewayConfigSpec, {}),
    systemClock,
    undefined as unknown as RegistryRepository,
    new Logger('gateway', 'warn', () => undefined),
  );
  const storm = () => {
    const began = performance.now();
    ids.forEach((id, i) => service.registered(registration(id, i)));
    return performance.now() - began;
  };
  const storm1Ms = storm();
  const rounds = 5;
  const began = performance.now();
  for (let r = 0; r < rounds; r++) {
    ids.forEach((id, i) =>
      service.heartbeat({ workerId: id, state: 'ready', load: { running: (r + i) % 8, waiting: 0 }, sentAt: new Date().toISOString() }),
    );
  }
  const heartbeatUs = ((performance.now() - began) * 1000) / (rounds * ids.length);
  return { storm1Ms, heartbeatUs, storm2Ms: storm() };
}

/** One value of a Prometheus text exposition, or NaN. */
function metric(text: string, name: string, labels = ''): number {
  const m = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

async function main(): Promise<void> {
  const args = parseArgv(spec, process.argv.slice(2)).values;
  const progress = (line: string) => process.stderr.write(`[storm] ${line}\n`);
  const ids = Array.from({ length: args.workers }, (_, i) => `storm-${String(i).padStart(5, '0')}`);
  inProcess(ids); // warms the JIT up
  const local = inProcess(ids);
  const namespace = testNamespace();
  const natsUrl = testNatsUrl();
  const db = await createTestDatabase('storm');
  const nc = await connect({ servers: natsUrl, name: 'bench-storm', maxReconnectAttempts: -1 });
  const bus = new MessageBus(nc, new Subjects(namespace));
  await bus.ensureStreams();
  const env = { NATS_URL: natsUrl, MAAS_NAMESPACE: namespace, DATABASE_URL: db.url, MAAS_NATS_INSECURE: '1' };
  const services = new Map<string, StartedService>();
  try {
    for (const name of ['router', 'key-registry'] as const) services.set(name, await startService(name, env));
    services.set('gateway', await startService('gateway', { ...env, GATEWAY_WORKER_EXPIRY: '15s' }));
    const watched = ['router', 'gateway'] as const;
    const sampler = new ProcSampler(new Map(watched.map((n) => [n, services.get(n)!.child.pid!])));
    sampler.start(500);
    const scrape = (name: string) => fetch(`${services.get(name)!.url}/metrics`).then((r) => r.text());

    const storm = async () => {
      ids.forEach((id, i) => bus.publish('worker.registered', registration(id, i)));
      await nc.flush();
    };

    /** Scrapes every service each second until `until` resolves; the largest event-loop delay seen. */
    const lagDuring = async (until: Promise<unknown>) => {
      const max: Record<string, number> = {};
      for (const n of watched) await scrape(n); // resets the delay histograms
      let done = false;
      void until.finally(() => (done = true));
      do {
        await Promise.race([sleep(1000), until]);
        for (const n of watched) max[n] = Math.max(max[n] ?? 0, metric(await scrape(n), 'nodejs_eventloop_lag_max_seconds') * 1000);
      } while (!done);
      return max;
    };
    const replicaHolds = async (n: number, timeoutMs: number) => {
      const start = Date.now();
      while (Date.now() - start < timeoutMs) {
        if (metric(await scrape('gateway'), 'maas_gateway_replica_workers', 'state="ready"') >= n) return Date.now() - start;
        await sleep(100);
      }
      return Number.NaN;
    };

    progress(`storm 1: ${ids.length} registrations at once`);
    await sleep(2000);
    const storm1At = Date.now();
    const storm1Held = storm().then(() => replicaHolds(ids.length, 60_000));
    const lag1 = await lagDuring(storm1Held);
    const storm1Ms = await storm1Held;
    const storm1Wall = Date.now() - storm1At;

    progress(`steady: ${ids.length} heartbeats/s for ${args.seconds} s`);
    let beating = true;
    const beats = (async () => {
      for (let tick = 0; beating; tick++) {
        const began = Date.now();
        ids.forEach((id, i) => {
          if (tick % 10 === i % 10) bus.publish('worker.registered', registration(id, i));
          bus.publish('worker.heartbeat', {
            workerId: id,
            state: 'ready',
            load: { running: (tick + i) % 8, waiting: (tick + i) % 2, kvCacheUsage: ((tick + i) % 10) / 10 },
            sentAt: new Date().toISOString(),
          });
        });
        await nc.flush();
        await sleep(Math.max(0, 1000 - (Date.now() - began)));
      }
    })();
    const steadyFrom = Date.now();
    const lagSteady = await lagDuring(sleep(args.seconds * 1000));
    const steadyTo = Date.now();

    progress('storm 2: every worker re-announces at once, heartbeats going on');
    const lag2 = await lagDuring(storm().then(() => sleep(3000)));
    beating = false;
    await beats;

    const cpu = Object.fromEntries(watched.map((n) => [n, sampler.cpu(n, steadyFrom, steadyTo)]));
    const rss = Object.fromEntries(watched.map((n) => [n, sampler.peakRss(n, storm1At, Date.now()) / (1 << 20)]));
    const heap: Record<string, number> = {};
    for (const n of watched) heap[n] = metric(await scrape(n), 'nodejs_heap_size_used_bytes') / (1 << 20);
    sampler.stop();

    const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
    const rows = watched.map((n) => [
      n,
      fmt(lag1[n]),
      fmt(lagSteady[n]),
      fmt(lag2[n]),
      `${fmt(100 * cpu[n])} %`,
      fmt(rss[n], 0),
      fmt(heap[n], 0),
    ]);
    const out = [
      `in process, the gateway's WorkerRegistryService: ${ids.length} registrations at once block it ${fmt(local.storm1Ms)} ms, ` +
        `a heartbeat costs ${fmt(local.heartbeatUs, 2)} µs, ${ids.length} re-announcements at once block it ${fmt(local.storm2Ms)} ms`,
      '',
      `registry storm — ${ids.length} workers, ${ids.length} heartbeats/s for ${args.seconds} s between two storms of ${ids.length} registrations`,
      `gateway replica held all ${ids.length} workers ${fmt(storm1Ms, 0)} ms after the first storm was sent (${fmt(storm1Wall, 0)} ms measured window)`,
      '',
      renderTable(
        [
          'service',
          'event-loop delay max, storm 1 (ms)',
          'steady (ms)',
          'storm 2 (ms)',
          'CPU steady (of a core)',
          'RSS max (MB)',
          'heap used at end (MB)',
        ],
        rows,
      ),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    const report = {
      benchmark: 'fleet-storm',
      args,
      inProcess: local,
      storm1Ms,
      lag: { storm1: lag1, steady: lagSteady, storm2: lag2 },
      cpu,
      rss,
      heap,
    };
    if (args.out) {
      fs.mkdirSync(path.dirname(args.out), { recursive: true });
      fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    } else writeReport('fleet-storm', report);
  } finally {
    for (const s of [...services.values()].reverse()) await s.stop().catch(() => undefined);
    await deleteStreams(nc, namespace).catch(() => undefined);
    await nc.close();
    await db.drop();
  }
}

runMain('bench/fleet/storm', main);
