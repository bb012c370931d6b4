/**
 * Fleet benchmark: the platform's scaling path at research-cloud scale, on the real services.
 *
 *   node scripts/run.js bench/fleet.ts [--vms 100] [--workers-per-vm 10] [--minutes 20] [--peak-rps 100]
 *       [--baseline-minutes 3] [--no-baseline] [--series FILE] [--day N] [--seed N] [--out PATH] …
 *   node scripts/run.js bench/fleet.ts --picks-only [--pick-endpoints 1,10,100,1000] [--picks N]
 *
 * `--picks-only` starts no service: it times the gateway's pick at each endpoint count against the
 * plain reference implementation (libs/routing/src/testing/reference-routing.ts), side by side in
 * alternating rounds over the same moving fleet, for the gateway's request as built today and for
 * conversations with prompt blocks, checks both pick the same workers, and writes
 * artifacts/bench/fleet-picks.json.
 *
 * Real: router, key-registry, gateway (its registry replica, routing, proxying), metrics-collector,
 * forecaster and the vm-scaler with its `mdx` provider, each its own process from dist/ as in
 * production, on PostgreSQL and NATS; the mdx API simulator (@maas/mdx-sim, real HTTP, tokens,
 * asynchronous boots with a drawn boot time, failed boots whose guest hangs, its rate limit).
 *
 * Light stand-ins, because a thousand `maas worker` processes and runtimes do not fit on a small
 * machine: a VM that reaches PowerON hosts `--workers-per-vm` real WorkerAgents (the class `maas
 * worker` runs: registration, 1 Hz heartbeats, re-announcement every 10 s and after a reconnect,
 * drain on shutdown) in one process for the whole fleet (fleet-host), one NATS connection per VM
 * rather than per worker, all in front of one shared `maas sim-engine` (sped up by
 * --engine-time-scale). Demand is the series as usage events (`usage.requests-completed` batches,
 * what gateways send) rather than the requests themselves; a steady trickle of real chats goes
 * through the gateway to measure its latency and give each VM its first routed request.
 *
 * Demand: one day of a ServeGen request-rate series replayed in --minutes of wall time, scaled so
 * its peak is --peak-rps events/s, and one replica (= one worker) serves peak / (VMs × workers per
 * VM) of it: the peak needs every VM. The baseline is the same day on 1 VM with 1 worker (whose boot
 * does not fail: it is the one-worker reference for latency and CPU).
 * The router pick is the gateway's own pipeline timed in this process over 1 and N endpoints (the
 * gateway exports no pick histogram); the gateway's dispatch histogram (auth + body + pick) is read
 * from its /metrics alongside. Tables and PASS/FAIL on stdout, progress on stderr, JSON to
 * artifacts/bench/fleet.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defineArgs, integerList, parseArgv, runMain } from '@maas/cli-args';
import { FleetRunResult, FleetRunSpec, MODEL, runFleet, SERVICES, STAND_INS } from './fleet/fleet-run';
import { loadAverage } from './fleet/proc-sampler';
import { calibrate, comparePicks, PickComparison, PickTiming, PickWorkload, timePicks } from './fleet/pick-timing';
import { repoRoot, writeReport } from './lib/report';
import { summarize } from './lib/stats';
import { renderTable } from './lib/table';
import { loadRateSeries } from './scaling/traces';

const TRACES = path.resolve(repoRoot(), '..', 'shared', 'data', 'traces');
/** The Targets of issue 19 for the 100-VM run. */
const TARGETS = { rssMb: 150, pickP99Ms: 0.1, chatP99Ratio: 1.2, gatewayHeartbeatCpu: 0.05, tickMs: 100 };

function rateLimit(text: string): FleetRunSpec['mdxRateLimit'] | 'sim' {
  if (text === 'off') return null;
  if (text === 'sim') return 'sim';
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not R/B (requests per second / burst), off or sim`);
  return { requestsPerSecond: Number(m[1]), burst: Number(m[2]) };
}

const spec = defineArgs({
  command: 'node scripts/run.js bench/fleet.ts',
  description: `A compressed day of demand on the real router, gateway, metrics-collector, forecaster and
vm-scaler (mdx provider) against the mdx API simulator, whose VMs host light worker agents; the
header of bench/fleet.ts says what is real and what stands in.`,
  options: {
    vms: { type: 'integer', min: 1, default: 100, help: 'VMs the peak needs' },
    'workers-per-vm': { type: 'integer', min: 1, default: 10, help: 'workers each VM hosts (replicas per VM in the scaling spec)' },
    'spare-vms': { type: 'integer', min: 0, help: 'pool VMs beyond --vms, to replace failed boots (default 10 % + 1)' },
    minutes: { type: 'number', above: 0, default: 20, help: 'wall-clock minutes the day is replayed in' },
    'baseline-minutes': {
      type: 'number',
      above: 0,
      help: 'minutes of the baseline run (1 VM, 1 worker, no failed boot; default half of --minutes, 1 to 3)',
    },
    'no-baseline': { type: 'boolean', help: 'skip the baseline run (no ratios)' },
    'peak-rps': { type: 'number', above: 0, default: 100, help: 'usage events per second at the peak' },
    series: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'FILE',
      help: 'request-rate series t_seconds,requests_per_second (default: the shared ServeGen m-large series)',
    },
    day: { type: 'integer', min: 0, default: 0, help: 'which day of the series to replay' },
    tick: { type: 'number', above: 0, default: 1, value: 'S', help: "the vm-scaler's tick (SCALING_TICK_MS)" },
    'metrics-interval': { type: 'number', above: 0, default: 2, value: 'S', help: "the metrics-collector's aggregation interval" },
    'boot-min': { type: 'number', min: 0, default: 3, value: 'S', help: 'shortest simulated boot' },
    'boot-max': { type: 'number', min: 0, default: 8, value: 'S', help: 'longest simulated boot (uniform in between)' },
    'boot-failure-rate': { type: 'number', min: 0, max: 1, default: 0.05, help: 'fraction of boots whose guest hangs' },
    'boot-timeout': {
      type: 'number',
      above: 0,
      default: 20,
      value: 'S',
      help: 'SCALING_BOOT_TIMEOUT_MS: a VM with no ready worker by then failed its boot',
    },
    'mdx-poll': { type: 'number', above: 0, default: 1, value: 'S', help: "the mdx provider's first status poll (SCALING_MDX_POLL_MS)" },
    'mdx-rate-limit': {
      type: 'custom',
      parse: rateLimit,
      default: 'sim' as const,
      value: 'R/B|off|sim',
      help: "the simulated API's limit per client (default: the simulator's own)",
    },
    'chat-per-second': { type: 'number', above: 0, default: 4, help: 'real chats through the gateway per second' },
    'chat-max-tokens': { type: 'integer', min: 1, default: 4, help: 'max_tokens of each chat' },
    'engine-time-scale': {
      type: 'number',
      above: 0,
      default: 20,
      help: 'the shared sim-engine runs this many times faster than real time',
    },
    picks: { type: 'integer', min: 100, default: 20_000, help: 'picks timed per endpoint count' },
    'picks-only': { type: 'boolean', help: 'only time the pick against the reference implementation (no services)' },
    'pick-endpoints': {
      type: 'custom',
      parse: integerList(1),
      default: [1, 10, 100, 1000],
      help: 'endpoint counts --picks-only times',
    },
    seed: { type: 'integer', min: 0, default: 1, help: 'seed of boot times and failures' },
    out: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'PATH',
      help: 'where the JSON goes (default artifacts/bench/fleet.json)',
    },
  },
  epilogue: 'Tables and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/fleet.json.',
});

const mb = (bytes: number) => bytes / (1 << 20);
const maxOf = (xs: readonly number[]) => (xs.length ? Math.max(...xs) : Number.NaN);
const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)} %` : '–');

/** What one run says about each measure, in the units the table prints. */
function measures(r: FleetRunResult) {
  const inPeak = (at: number) => at >= r.peakWindow.from && at <= r.peakWindow.to;
  const chats = r.chat.filter((c) => inPeak(c.at) && c.status === 200);
  const chatSummary = summarize(chats.map((c) => c.ms));
  const latencies = r.decisions.filter((d) => d.receivedAt !== undefined).map((d) => d.receivedAt! - d.decidedAt);
  const gaps = r.decisions.slice(1).map((d, i) => d.decidedAt - r.decisions[i].decidedAt);
  const actions = r.decisions.map((d) => d.actions);
  return {
    chat: chatSummary,
    chatErrors: r.chat.filter((c) => c.status !== 200).length,
    chatErrorsAtPeak: r.chat.filter((c) => inPeak(c.at) && c.status !== 200).length,
    decisionLatency: summarize(latencies),
    tickGap: summarize(gaps),
    actionsPerTick: {
      mean: actions.reduce((s, x) => s + x, 0) / (actions.length || Number.NaN),
      max: Math.max(0, ...actions),
      ticksActing: actions.filter((a) => a > 0).length,
    },
    firstRouted: summarize(r.powerOnToFirstRouted.map((ms) => ms / 1000)),
  };
}

/** `--picks-only`: the pipeline against the reference, per endpoint count and workload; a table, PASS/FAIL, JSON. */
function picksOnly(
  args: { picks: number; seed: number; 'pick-endpoints': number[]; out?: string },
  progress: (line: string) => void,
): void {
  const loadBefore = loadAverage();
  const workloads: PickWorkload[] = ['gateway', 'prefix'];
  const results: PickComparison[] = [];
  for (const n of args['pick-endpoints'])
    for (const workload of workloads) {
      progress(`timing ${args.picks} picks over ${n} endpoints (${workload}), reference and pipeline side by side`);
      results.push(comparePicks(n, workload, args.picks, MODEL, args.seed));
    }
  const us = (ms: number) => ms * 1000;
  const x = (r: number) => `${r.toFixed(1)}×`;
  const pctOf = (share: number) => `${(100 * share).toFixed(1)} %`;
  const rows = results.map((r) => [
    r.endpoints,
    r.workload,
    us(r.reference.p50Ms),
    us(r.pipeline.p50Ms),
    x(r.ratios.p50),
    us(r.reference.p99Ms),
    us(r.pipeline.p99Ms),
    x(r.ratios.p99),
    us(r.reference.onCpuP99Ms),
    us(r.pipeline.onCpuP99Ms),
    x(r.ratios.onCpuP99),
    pctOf(r.pipeline.interrupted),
    `${r.samePicks}/${r.compared}`,
  ]);
  // what preemption alone does to a fixed piece of work as long as the largest pick
  const longest = Math.max(...results.map((r) => r.pipeline.p50Ms));
  const noise = calibrate(longest * 1000, args.picks);
  const largest = Math.max(...args['pick-endpoints']);
  const targets = results
    .filter((r) => r.endpoints === largest)
    .flatMap((r) => [
      {
        target: `pick p99 ≤ ${TARGETS.pickP99Ms} ms with ${r.endpoints} workers (${r.workload})`,
        pass: r.pipeline.p99Ms <= TARGETS.pickP99Ms,
        detail: `${fmt(r.pipeline.p99Ms, 4)} ms wall (reference ${fmt(r.reference.p99Ms, 4)} ms, ${x(r.ratios.p99)})`,
      },
      {
        target: `pick p99 on the CPU ≤ ${TARGETS.pickP99Ms} ms with ${r.endpoints} workers (${r.workload}; preempted picks left out)`,
        pass: r.pipeline.onCpuP99Ms <= TARGETS.pickP99Ms,
        detail: `${fmt(r.pipeline.onCpuP99Ms, 4)} ms (reference ${fmt(r.reference.onCpuP99Ms, 4)} ms, ${x(r.ratios.onCpuP99)}); ${pctOf(r.pipeline.interrupted)} of picks preempted`,
      },
    ]);
  targets.push({
    target: 'the pipeline picks what the reference picks',
    pass: results.every((r) => r.samePicks === r.compared),
    detail: results.map((r) => `${r.samePicks}/${r.compared}`).join(', '),
  });
  const out = [
    `pick timing — preset ${results[0]?.preset}, gateway filters ahead; ${args.picks} timed picks per cell after 1,000 warm-up, 20 alternating rounds; load average ${fmt(loadBefore)} → ${fmt(loadAverage())} (2 cores, shared)`,
    'gateway: the request RoutingService builds today; prefix: conversations (a shared 4-block system prompt, 2 blocks a turn) the index learns',
    '',
    renderTable(
      [
        'endpoints',
        'workload',
        'ref p50 µs',
        'p50 µs',
        'ratio',
        'ref p99 µs',
        'p99 µs',
        'ratio',
        'ref on-CPU p99 µs',
        'on-CPU p99 µs',
        'ratio',
        'preempted',
        'same picks',
      ],
      rows,
    ),
    '',
    `machine noise: a fixed ${fmt(us(longest), 0)} µs loop timed the same way: p50 ${fmt(us(noise.p50Ms), 1)} µs, p99 ${fmt(us(noise.p99Ms), 1)} µs wall, ${fmt(us(noise.onCpuP99Ms), 1)} µs on the CPU, ${pctOf(noise.interrupted)} preempted`,
    'on-CPU p99: picks during which the process was not preempted (wall time within 20 µs of its CPU time); wall p99 on a shared machine is mostly preemption',
    '',
    ...targets.map((t) => `${t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${t.detail}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  const report = {
    benchmark: 'fleet-picks',
    args,
    loadAverage: { before: loadBefore, after: loadAverage() },
    targets,
    machineNoise: { loopMs: longest, ...noise },
    results,
  };
  let written: string;
  if (args.out) {
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    written = args.out;
  } else written = writeReport('fleet-picks', report);
  progress(`wrote ${path.relative(process.cwd(), written)}`);
}

async function main(): Promise<void> {
  const args = parseArgv(spec, process.argv.slice(2)).values;
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  if (args['picks-only']) return picksOnly(args, progress);
  const series = loadRateSeries(args.series ?? path.join(TRACES, 'servegen-language-m-large-rate.csv'));
  const dayStart = Math.round((args.day * 86_400) / series.stepSeconds);
  if (dayStart >= series.rates.length)
    throw new Error(
      `--day ${args.day}: ${path.basename(series.file)} holds ${((series.rates.length * series.stepSeconds) / 86_400).toFixed(1)} days`,
    );
  const limit = args['mdx-rate-limit'];
  const base = {
    series,
    dayStart,
    peakRps: args['peak-rps'],
    tickMs: args.tick * 1000,
    metricsIntervalMs: args['metrics-interval'] * 1000,
    boot: { min: args['boot-min'], max: Math.max(args['boot-min'], args['boot-max']) },
    bootFailureRate: args['boot-failure-rate'],
    bootTimeoutMs: args['boot-timeout'] * 1000,
    mdxPollMs: args['mdx-poll'] * 1000,
    chatPerSecond: args['chat-per-second'],
    chatMaxTokens: args['chat-max-tokens'],
    engineTimeScale: args['engine-time-scale'],
    seed: args.seed,
    progress,
  };
  const simLimit = (r: FleetRunSpec['mdxRateLimit'] | 'sim') => (r === 'sim' ? undefined : r) as FleetRunSpec['mdxRateLimit'];
  const fleetSpec: FleetRunSpec = {
    ...base,
    label: `fleet ${args.vms}×${args['workers-per-vm']}`,
    vms: args.vms,
    workersPerVm: args['workers-per-vm'],
    spareVms: args['spare-vms'] ?? Math.ceil(args.vms * 0.1) + 1,
    minutes: args.minutes,
    mdxRateLimit: simLimit(limit),
  };
  // the baseline is the one-worker reference for latency and CPU: its one boot does not fail
  const baselineSpec: FleetRunSpec = {
    ...fleetSpec,
    label: 'baseline 1×1',
    vms: 1,
    workersPerVm: 1,
    spareVms: 1,
    bootFailureRate: 0,
    minutes: args['baseline-minutes'] ?? Math.min(3, Math.max(1, args.minutes / 2)),
  };

  const baseline = args['no-baseline'] ? undefined : await runFleet(baselineSpec);
  const fleet = await runFleet(fleetSpec);
  progress('timing the gateway pick over 1 and over the fleet peak of endpoints');
  const picks: PickTiming[] = [
    timePicks(1, args.picks, MODEL, args.seed),
    timePicks(Math.max(1, fleet.peakWorkers, args.vms * args['workers-per-vm']), args.picks, MODEL, args.seed),
  ];

  const f = measures(fleet);
  const b = baseline && measures(baseline);
  const ratio = (x: number, y: number | undefined) =>
    y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y === 0 ? '–' : `${(x / y).toFixed(2)}×`;
  const row = (what: string, fx: number, bx: number | undefined, digits = 1, unit = '') => [
    what,
    b ? `${fmt(bx, digits)}${unit}` : '–',
    `${fmt(fx, digits)}${unit}`,
    ratio(fx, bx),
  ];
  const rows: (string | number)[][] = [
    row('VMs on at the peak', fleet.peakVmsOn, baseline?.peakVmsOn, 0),
    row('workers heartbeating at the peak', fleet.peakWorkers, baseline?.peakWorkers, 0),
    row('heartbeats/s at the peak', fleet.heartbeatsPerSecondPeak, baseline?.heartbeatsPerSecondPeak, 0),
    row('NATS messages/s at the peak (namespace)', fleet.messagesPerSecondPeak, baseline?.messagesPerSecondPeak, 0),
    row('scaling ticks recorded', fleet.decisions.length, baseline?.decisions.length, 0),
    row('capacity actions per tick, mean', f.actionsPerTick.mean, b?.actionsPerTick.mean, 2),
    row('capacity actions per tick, max', f.actionsPerTick.max, b?.actionsPerTick.max, 0),
    row('decision latency p50 (ms)', f.decisionLatency.median, b?.decisionLatency.median, 1),
    row('decision latency p99 (ms)', f.decisionLatency.p99, b?.decisionLatency.p99, 1),
    row(`tick interval p99 (ms; set ${args.tick * 1000})`, f.tickGap.p99, b?.tickGap.p99, 0),
    row('gateway chat p50 at the peak (ms)', f.chat.median, b?.chat.median, 1),
    row('gateway chat p99 at the peak (ms)', f.chat.p99, b?.chat.p99, 1),
    row('gateway chats failed, whole run (incl. before the first worker)', f.chatErrors, b?.chatErrors, 0),
    row('gateway chats failed at the peak', f.chatErrorsAtPeak, b?.chatErrorsAtPeak, 0),
    row(
      'gateway dispatch p99 ≤ (ms, histogram bucket)',
      (fleet.gatewayDispatch.p99UpperBoundSeconds ?? Number.NaN) * 1000,
      baseline && (baseline.gatewayDispatch.p99UpperBoundSeconds ?? Number.NaN) * 1000,
      2,
    ),
    row('pick p50 (ms, gateway pipeline in-bench)', picks[1].p50Ms, picks[0].p50Ms, 4),
    row('pick p99 (ms, gateway pipeline in-bench)', picks[1].p99Ms, picks[0].p99Ms, 4),
    row('PowerON → first routed request p50 (s)', f.firstRouted.median, b?.firstRouted.median, 1),
    row('PowerON → first routed request max (s)', f.firstRouted.max, b?.firstRouted.max, 1),
    row('VMs that got a routed request', f.firstRouted.count, b?.firstRouted.count, 0),
    row('power-ons (simulator)', fleet.sim.powerOns, baseline?.sim.powerOns, 0),
    row('failed boots (simulator)', fleet.sim.bootFailures, baseline?.sim.bootFailures, 0),
    row('boots ready (vm-scaler)', fleet.vmEvents.readyBoots, baseline?.vmEvents.readyBoots, 0),
    row('failed boots recorded by the vm-scaler', fleet.vmEvents.failedBoots, baseline?.vmEvents.failedBoots, 0),
    row('… recovered (a later boot became ready)', fleet.vmEvents.recovered, baseline?.vmEvents.recovered, 0),
    row(
      '… time to the replacement ready, max (s)',
      maxOf(fleet.vmEvents.recoverySeconds),
      baseline && maxOf(baseline.vmEvents.recoverySeconds),
      1,
    ),
    row('VMs failed while serving (vm-scaler)', fleet.vmEvents.failedWhileServing, baseline?.vmEvents.failedWhileServing, 0),
    row('VMs stopped (vm-scaler)', fleet.vmEvents.stopped, baseline?.vmEvents.stopped, 0),
    row('mdx API requests', fleet.sim.requests, baseline?.sim.requests, 0),
    row('mdx API 429s', fleet.sim.rateLimited, baseline?.sim.rateLimited, 0),
  ];
  const procRows = [...SERVICES, ...STAND_INS].map((name) => {
    const fx = fleet.cpu[name];
    const bx = baseline?.cpu[name];
    return [
      `${name}${(STAND_INS as readonly string[]).includes(name) ? ' (stand-in)' : ''}`,
      bx ? pct(bx.peak) : '–',
      pct(fx.peak),
      ratio(fx.peak, bx?.peak),
      bx ? fmt(mb(bx.peakRssBytes), 0) : '–',
      fmt(mb(fx.peakRssBytes), 0),
      ratio(fx.peakRssBytes, bx?.peakRssBytes),
    ];
  });

  const gw = fleet.cpu.gateway.peak;
  const gwBase = baseline?.cpu.gateway.peak;
  const heartbeatCpu = gwBase === undefined ? gw : gw - gwBase;
  const latencyP99 = f.decisionLatency.p99;
  const targets = [
    ...SERVICES.map((name) => ({
      target: `${name} RSS ≤ ${TARGETS.rssMb} MB`,
      pass: mb(fleet.cpu[name].peakRssBytes) <= TARGETS.rssMb,
      detail: `${fmt(mb(fleet.cpu[name].peakRssBytes), 0)} MB`,
    })),
    {
      target: `pick p99 ≤ ${TARGETS.pickP99Ms} ms with ${picks[1].endpoints} workers`,
      pass: picks[1].p99Ms <= TARGETS.pickP99Ms,
      detail: `${fmt(picks[1].p99Ms, 4)} ms (1 worker: ${fmt(picks[0].p99Ms, 4)} ms)`,
    },
    {
      target: `gateway chat p99 with ${fleet.peakWorkers} workers ≤ ${TARGETS.chatP99Ratio}× its p99 with one`,
      pass: b !== undefined && f.chat.p99 <= TARGETS.chatP99Ratio * b.chat.p99,
      detail: b ? `${fmt(f.chat.p99)} ms vs ${fmt(b.chat.p99)} ms (${ratio(f.chat.p99, b.chat.p99)})` : 'no baseline',
    },
    {
      target: `gateway CPU for ${fmt(fleet.heartbeatsPerSecondPeak, 0)} heartbeats/s ≤ ${pct(TARGETS.gatewayHeartbeatCpu)} of a core`,
      pass: heartbeatCpu <= TARGETS.gatewayHeartbeatCpu,
      detail: `${pct(heartbeatCpu)}${gwBase === undefined ? ' (no baseline to subtract)' : ` (${pct(gw)} at the peak − ${pct(gwBase)} in the baseline, same chat pace)`}`,
    },
    {
      target: `vm-scaler tick ≤ ${TARGETS.tickMs} ms`,
      pass: latencyP99 <= TARGETS.tickMs,
      detail: `decision latency p99 ${fmt(latencyP99)} ms (clock read → scaling.decided on NATS: decide, store, publish; acting on the mdx API is not in it); tick interval p99 ${fmt(f.tickGap.p99, 0)} ms for ${args.tick * 1000} ms set`,
    },
    {
      target: 'maas scaling replay reproduces the run',
      pass: fleet.replay.identical && fleet.replay.decisions > 0,
      detail: fleet.replay.line,
    },
  ];

  const out: string[] = [];
  out.push(
    `fleet benchmark — ${path.basename(series.file)} day ${args.day} (${Math.round(86_400 / series.stepSeconds)} steps of ${series.stepSeconds} s) in ${args.minutes} min, peak ${args['peak-rps']} usage events/s → ${args.vms} VMs × ${args['workers-per-vm']} workers; ` +
      `boots ${base.boot.min}–${base.boot.max} s, ${pct(args['boot-failure-rate'])} hang; tick ${args.tick} s; load average ${fmt(fleet.loadAverage.start)} → ${fmt(fleet.loadAverage.end)} (2 cores, shared)`,
  );
  out.push(`real: ${SERVICES.join(', ')} (dist/, own processes), the mdx API simulator, PostgreSQL, NATS`);
  out.push(
    `light stand-ins: ${args['workers-per-vm']} WorkerAgents per PowerON VM in one fleet-host process (one NATS connection per VM, not per worker), one shared sim-engine ×${args['engine-time-scale']} behind them; demand as usage-event batches; ${args['chat-per-second']} real chats/s through the gateway`,
  );
  out.push('');
  out.push(renderTable(['measure', baselineSpec.label, fleetSpec.label, 'ratio'], rows));
  out.push('');
  out.push(
    renderTable(
      ['process (CPU at the peak, RSS max)', 'CPU baseline', 'CPU fleet', 'ratio', 'RSS MB baseline', 'RSS MB fleet', 'ratio'],
      procRows,
    ),
  );
  out.push('');
  for (const t of targets) out.push(`${t.pass ? 'PASS' : 'FAIL'}  ${t.target}: ${t.detail}`);
  out.push(`(${fmt(fleet.wallSeconds, 0)} s fleet run; load average now ${fmt(loadAverage())})`);
  process.stdout.write(`${out.join('\n')}\n`);

  const report = {
    benchmark: 'fleet',
    args: { ...args, series: path.basename(series.file) },
    targets,
    picks,
    baseline: baseline && { ...baseline, measures: b },
    fleet: { ...fleet, measures: f },
  };
  let written: string;
  if (args.out) {
    fs.mkdirSync(path.dirname(args.out), { recursive: true });
    fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
    written = args.out;
  } else written = writeReport('fleet', report);
  progress(`wrote ${path.relative(process.cwd(), written)}`);
}

runMain('bench/fleet', main);
