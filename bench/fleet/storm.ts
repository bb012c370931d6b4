/**
 * Registry storm: what a fleet's heartbeats and re-announcements cost the gateway and the router,
 * and what they do to the gateway's chat latency.
 *
 *   node scripts/run.js bench/fleet/storm.ts [--workers 1000] [--seconds 20] [--one-seconds 15]
 *       [--chat-per-second 10] [--compare-with DIR] [--out PATH]
 *
 * Real router, key-registry and gateway from dist/ on PostgreSQL and NATS, and one sim-engine
 * runtime that every worker's address leads to. This process plays `--workers` workers on the bus,
 * in four phases, with chats through the gateway at a steady pace all along:
 *   0. one worker: a single worker heartbeats at 1 Hz (the reference for latency and CPU);
 *   1. a storm: every worker registers at once, as after a NATS reconnect;
 *   2. steady: every worker heartbeats at 1 Hz (and re-announces every 10 s, as WorkerAgent does);
 *   3. a second storm while the heartbeats go on.
 * With --compare-with, a second gateway built in another checkout (e.g. a `git worktree` of the
 * previous commit, after `node scripts/build.js` there) runs beside this one on the same bus, and
 * the chats alternate between the two: before and after side by side, under the same machine load.
 * Measured: chat latency p50/p99 with one worker and with the whole fleet heartbeating (same pace,
 * same runtime), each service's event-loop delay max (`nodejs_eventloop_lag_max_seconds`, reset at
 * every scrape, scraped every second), how long until the gateway's replica holds every worker, CPU
 * (of one core) and RSS from /proc per phase, and heap in use at the end. On a shared machine the
 * delay max also holds the time a process waited for a core, so the same storm is first applied in
 * this process to the gateway's WorkerRegistryService itself: the longest event-loop turn while a
 * whole storm arriving in one read is applied, and the time per heartbeat. Tables on stdout, JSON to
 * artifacts/bench/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { connect } from 'nats';
import { defineArgs, parseArgv, runMain } from '@maas/cli-args';
import { loadConfig } from '@maas/config';
import { Logger } from '@maas/logging';
import { projectRoot, systemClock } from '@maas/platform';
import { Subjects, WorkerRegistered } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import {
  createTestDatabase,
  deleteStreams,
  startNode,
  StartedProcess,
  startService,
  StartedService,
  testNamespace,
  testNatsUrl,
} from '@maas/testing';
import { writeReport } from '../lib/report';
import { summarize } from '../lib/stats';
import { renderTable } from '../lib/table';
import { gatewayConfigSpec } from '../../services/gateway/src/gateway.config';
import type { RegistryRepository } from '../../services/gateway/src/repositories/registry.repository';
import { WorkerRegistryService } from '../../services/gateway/src/services/worker-registry.service';
import { MODEL, PROFILE } from './fleet-run';
import { loadAverage, ProcSampler } from './proc-sampler';

const spec = defineArgs({
  command: 'node scripts/run.js bench/fleet/storm.ts',
  description: 'Heartbeats and re-announcement storms of a fleet of workers against the real router and gateway.',
  options: {
    workers: { type: 'integer', min: 1, default: 1000, help: 'workers played on the bus' },
    seconds: { type: 'number', above: 0, default: 20, help: 'seconds of steady heartbeats between the storms' },
    'one-seconds': { type: 'number', above: 0, default: 15, help: 'seconds with one worker heartbeating, before the storms' },
    'chat-per-second': { type: 'number', above: 0, default: 10, help: 'chats through the gateway per second, in every phase' },
    'compare-with': {
      type: 'custom',
      parse: (dir: string) => path.resolve(dir),
      value: 'DIR',
      help: 'another checkout with its own dist/ build: its gateway runs beside this one (same bus, same workers, chats alternating)',
    },
    'engine-time-scale': { type: 'number', above: 0, default: 20, help: 'the sim-engine runs this many times faster than real time' },
    out: { type: 'custom', parse: (file: string) => path.resolve(file), value: 'PATH', help: 'where the JSON goes' },
  },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where every worker's requests go: the one sim-engine (set once it listens; in process, an address nothing is sent to). */
let engineUrl = 'http://127.0.0.1:1';

const registration = (id: string, i: number): WorkerRegistered => ({
  workerId: id,
  url: engineUrl,
  hardware: 'gpu',
  capacity: 8,
  vmId: `vm-${Math.floor(i / 10)}`,
  runtime: { kind: 'sim-engine' },
  models: [{ id: MODEL, capabilities: ['chat', 'completion'] }],
  sentAt: new Date().toISOString(),
});

const turn = () => new Promise((r) => setImmediate(r));

/**
 * The gateway's registry service in this process (no bus: only its replica and gauge work): the
 * longest event-loop turn while a storm of registrations that arrived in one read is applied, then
 * the time per heartbeat of a full fleet, then the longest turn of a storm of re-announcements.
 */
async function inProcess(ids: readonly string[]): Promise<{ storm1Ms: number; heartbeatUs: number; storm2Ms: number }> {
  const service = new WorkerRegistryService(
    loadConfig(gatewayConfigSpec, {}),
    systemClock,
    undefined as unknown as RegistryRepository,
    new Logger('gateway', 'warn', () => undefined),
  );
  // events the service keeps for later turns (a service that applies every event at once has none)
  const queued = () => (service as { queuedEvents?: number }).queuedEvents ?? 0;
  const storm = async () => {
    const began = performance.now();
    ids.forEach((id, i) => service.registered(registration(id, i)));
    let longest = performance.now() - began;
    while (queued() > 0) {
      const at = performance.now();
      await turn();
      longest = Math.max(longest, performance.now() - at);
    }
    return longest;
  };
  const storm1Ms = await storm();
  // the messages as the bus decodes them, made beforehand: what is timed is what the service does with them
  const rounds = 5;
  const sentAt = new Date().toISOString();
  const beats = Array.from({ length: rounds }, (_, r) =>
    ids.map((id, i) => ({ workerId: id, state: 'ready' as const, load: { running: (r + i) % 8, waiting: 0 }, sentAt })),
  );
  const began = performance.now();
  for (const round of beats) {
    for (const beat of round) service.heartbeat(beat);
    while (queued() > 0) await turn();
  }
  const heartbeatUs = ((performance.now() - began) * 1000) / (rounds * ids.length);
  const storm2Ms = await storm();
  service.onApplicationShutdown();
  return { storm1Ms, heartbeatUs, storm2Ms };
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
  await inProcess(ids); // warms the JIT up
  const local = await inProcess(ids);
  const loadStart = loadAverage();
  const namespace = testNamespace();
  const natsUrl = testNatsUrl();
  const db = await createTestDatabase('storm');
  const nc = await connect({ servers: natsUrl, name: 'bench-storm', maxReconnectAttempts: -1 });
  const bus = new MessageBus(nc, new Subjects(namespace));
  await bus.ensureStreams();
  const env = { NATS_URL: natsUrl, MAAS_NAMESPACE: namespace, DATABASE_URL: db.url, MAAS_NATS_INSECURE: '1' };
  const services = new Map<string, StartedService>();
  let engine: StartedProcess | undefined;
  try {
    engine = startNode('dist/cli/main.js', {}, [
      'sim-engine',
      '--profile',
      PROFILE,
      '--model',
      MODEL,
      '--port',
      '0',
      '--time-scale',
      String(args['engine-time-scale']),
    ]);
    engineUrl = String((await engine.waitFor((r) => r.event === 'ready', 30_000, 'sim-engine ready')).url);
    for (const name of ['router', 'key-registry'] as const) services.set(name, await startService(name, env));
    services.set('gateway', await startService('gateway', { ...env, GATEWAY_WORKER_EXPIRY: '15s' }));
    if (args['compare-with']) services.set(OTHER, await startGatewayFrom(args['compare-with'], { ...env, GATEWAY_WORKER_EXPIRY: '15s' }));
    const { secret } = await bus.request('key-registry.create', { userEmail: 'storm@example.org', name: 'storm-bench' });
    const gateways = args['compare-with'] ? ['gateway', OTHER] : ['gateway'];
    const watched = ['router', ...gateways];
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
        const held = await Promise.all(gateways.map(async (g) => metric(await scrape(g), 'maas_gateway_replica_workers', 'state="ready"')));
        if (held.every((h) => h >= n)) return Date.now() - start;
        await sleep(100);
      }
      return Number.NaN;
    };

    /** 1 Hz heartbeats of the first `count()` workers (re-announcing every 10 s, as WorkerAgent does) until stopped. */
    let beatingCount = 1;
    let beating = true;
    const beats = (async () => {
      for (let tick = 0; beating; tick++) {
        const began = Date.now();
        ids.slice(0, beatingCount).forEach((id, i) => {
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

    const client = new Worker(__filename, {
      workerData: { urls: gateways.map((g) => services.get(g)!.url), secret, perSecond: args['chat-per-second'] } satisfies ChatClient,
    });
    const chatsDone = new Promise<ChatSample[]>((resolve, reject) => {
      client.once('message', (m: { chat: ChatSample[] }) => resolve(m.chat));
      client.once('error', reject);
    });
    let phase = 'warm-up';
    const setPhase = (p: string) => {
      phase = p;
      client.postMessage({ phase: p });
    };

    progress(`one worker: heartbeats at 1 Hz and ${args['chat-per-second']} chats/s for ${args['one-seconds']} s`);
    await replicaHolds(1, 30_000);
    await sleep(3000); // the first chats warm the gateway up (its tokenizer table loads on the first answer)
    setPhase('one');
    const oneFrom = Date.now();
    const lagOne = await lagDuring(sleep(args['one-seconds'] * 1000));
    const oneTo = Date.now();

    progress(`storm 1: ${ids.length} registrations at once`);
    setPhase('storm 1');
    const storm1At = Date.now();
    const storm1Held = storm().then(() => replicaHolds(ids.length, 60_000));
    const lag1 = await lagDuring(storm1Held);
    const storm1Ms = await storm1Held;
    const storm1Wall = Date.now() - storm1At;

    progress(`steady: ${ids.length} heartbeats/s for ${args.seconds} s`);
    beatingCount = ids.length;
    await sleep(2000); // the first round of the fleet's heartbeats
    setPhase('fleet');
    const steadyFrom = Date.now();
    const lagSteady = await lagDuring(sleep(args.seconds * 1000));
    const steadyTo = Date.now();

    progress('storm 2: every worker re-announces at once, heartbeats going on');
    setPhase('storm 2');
    const lag2 = await lagDuring(storm().then(() => sleep(3000)));
    client.postMessage({ stop: true });
    beating = false;
    await beats;
    const chat = await chatsDone;
    await client.terminate();
    progress(`done (last phase: ${phase})`);

    const cpuOne = Object.fromEntries(watched.map((n) => [n, sampler.cpu(n, oneFrom, oneTo)]));
    const cpu = Object.fromEntries(watched.map((n) => [n, sampler.cpu(n, steadyFrom, steadyTo)]));
    const rssOne = Object.fromEntries(watched.map((n) => [n, sampler.peakRss(n, 0, oneTo) / (1 << 20)]));
    const rss = Object.fromEntries(watched.map((n) => [n, sampler.peakRss(n, storm1At, Date.now()) / (1 << 20)]));
    const heap: Record<string, number> = {};
    for (const n of watched) heap[n] = metric(await scrape(n), 'nodejs_heap_size_used_bytes') / (1 << 20);
    sampler.stop();
    const latency = (p: string, gateway = 0) => {
      const of = chat.filter((c) => c.phase === p && c.gateway === gateway);
      const ok = of.filter((c) => c.status === 200).map((c) => c.ms);
      return { ...summarize(ok), failed: of.length - ok.length };
    };
    const phases = ['one', 'storm 1', 'fleet', 'storm 2'];
    const chatBy = Object.fromEntries(gateways.map((g, k) => [g, Object.fromEntries(phases.map((p) => [p, latency(p, k)]))]));

    const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
    const rows = watched.map((n) => [
      n,
      fmt(lagOne[n]),
      fmt(lag1[n]),
      fmt(lagSteady[n]),
      fmt(lag2[n]),
      `${fmt(100 * cpuOne[n])} %`,
      `${fmt(100 * cpu[n])} %`,
      `${fmt(100 * (cpu[n] - cpuOne[n]))} %`,
      fmt(rssOne[n], 0),
      fmt(rss[n], 0),
      fmt(heap[n], 0),
    ]);
    const out = [
      `in process, the gateway's WorkerRegistryService: ${ids.length} registrations at once hold the event loop at most ${fmt(local.storm1Ms)} ms a turn, ` +
        `a heartbeat costs ${fmt(local.heartbeatUs, 2)} µs, ${ids.length} re-announcements at once at most ${fmt(local.storm2Ms)} ms a turn`,
      '',
      `registry storm — ${ids.length} workers, ${ids.length} heartbeats/s for ${args.seconds} s between two storms of ${ids.length} registrations, ` +
        `after ${args['one-seconds']} s with one worker; ${args['chat-per-second']} chats/s throughout; load average ${fmt(loadStart, 1)} → ${fmt(loadAverage(), 1)}`,
      `gateway replica held all ${ids.length} workers ${fmt(storm1Ms, 0)} ms after the first storm was sent (${fmt(storm1Wall, 0)} ms measured window)`,
      '',
      renderTable(
        [
          'service',
          'event-loop delay max, one worker (ms)',
          'storm 1 (ms)',
          'fleet steady (ms)',
          'storm 2 (ms)',
          'CPU, one worker',
          'CPU, fleet steady',
          'CPU of the heartbeats',
          'RSS max, one worker (MB)',
          'RSS max, fleet (MB)',
          'heap used at end (MB)',
        ],
        rows,
      ),
      '',
      renderTable(
        ['chat through', 'phase', 'chats', 'failed', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'p99 ÷ one worker'],
        gateways
          .flatMap((g) => phases.map((p) => [g, p, chatBy[g][p]] as const))
          .map(([g, p, l]) => [
            g,
            p,
            String(l.count),
            String(l.failed),
            fmt(l.median),
            fmt(l.p99),
            fmt(l.max),
            fmt(l.p99 / chatBy[g].one.p99, 2),
          ]),
      ),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    const report = {
      benchmark: 'fleet-storm',
      args,
      loadAverage: { start: loadStart, end: loadAverage() },
      inProcess: local,
      storm1Ms,
      lag: { one: lagOne, storm1: lag1, steady: lagSteady, storm2: lag2 },
      cpu: { one: cpuOne, steady: cpu },
      rss: { one: rssOne, fleet: rss },
      heap,
      chat: chatBy,
    };
    if (args.out) {
      fs.mkdirSync(path.dirname(args.out), { recursive: true });
      fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    } else writeReport('fleet-storm', report);
  } finally {
    for (const s of [...services.values()].reverse()) await s.stop().catch(() => undefined);
    await engine?.stop().catch(() => undefined);
    await deleteStreams(nc, namespace).catch(() => undefined);
    await nc.close();
    await db.drop();
  }
}

/** The gateway started from --compare-with's build. */
const OTHER = 'gateway (other build)';

/** A gateway from another checkout's dist/ (its path given relative to this one, as startNode wants). */
async function startGatewayFrom(dir: string, env: Record<string, string>): Promise<StartedService> {
  const script = path.relative(projectRoot(), path.join(dir, 'dist', 'services', 'gateway', 'src', 'main.js'));
  const proc = startNode(script, { GATEWAY_PORT: '0', ...env });
  const ready = await proc.waitFor((r) => r.msg === 'ready', 60_000, `"ready" line of the gateway in ${dir}`);
  return { ...proc, url: String(ready.url) };
}

interface ChatClient {
  /** Gateways the chats go to, in turn. */
  readonly urls: readonly string[];
  readonly secret: string;
  readonly perSecond: number;
}

interface ChatSample {
  readonly phase: string;
  /** Index in ChatClient.urls. */
  readonly gateway: number;
  readonly ms: number;
  readonly status: number;
}

/**
 * The chat client, on a thread of its own: this process's own work (publishing a fleet's events,
 * reading the services' logs) would otherwise delay its timings. Chats go at a steady pace, each on
 * its own (not waiting for the one before), tagged with the phase they began in; the main thread
 * names the phase, then says stop, and gets every sample back.
 */
async function chatClient(o: ChatClient): Promise<void> {
  let phase = 'warm-up';
  let chatting = true;
  parentPort!.on('message', (m: { phase?: string; stop?: boolean }) => {
    if (m.phase) phase = m.phase;
    if (m.stop) chatting = false;
  });
  const chat: ChatSample[] = [];
  const inFlight = new Set<Promise<void>>();
  const every = 1000 / o.perSecond;
  for (let next = Date.now(), k = 0; chatting; next += every, k++) {
    await sleep(Math.max(0, next - Date.now()));
    const began = performance.now();
    const at = phase;
    const gateway = k % o.urls.length;
    const one = fetch(`${o.urls[gateway]}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${o.secret}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'How many workers?' }], max_tokens: 4 }),
      signal: AbortSignal.timeout(30_000),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      })
      .catch(() => 0)
      .then((status) => void chat.push({ phase: at, gateway, ms: performance.now() - began, status }));
    inFlight.add(one);
    void one.finally(() => inFlight.delete(one));
  }
  await Promise.all([...inFlight]);
  parentPort!.postMessage({ chat });
}

if (isMainThread) runMain('bench/fleet/storm', main);
else void chatClient(workerData as ChatClient);
