/**
 * Routing benchmark: round-robin, least-outstanding and prefix+load (@maas/routing presets, plus a
 * tuned prefix+load) replaying a Mooncake-format trace over simulated workers in virtual time.
 *
 *   node scripts/run.js bench/routing.ts [--trace FILE | --conversation | --bursty | --skewed] [--workers N] [--profile NAME] [--speedup X]
 *        [--heartbeat-ms MS] [--seed N] [--host-kv-blocks N] [--capacity N] [--ablation]
 *   node scripts/run.js bench/routing.ts --sweep [--sweep-workers 4,8,16]
 *
 * `--conversation` replays a generated conversation-style trace instead (bench/routing/conversation-trace.ts:
 * sessions sharing a few system prompts, prompts growing by turn, think time, heavy-tailed session
 * lengths; seeded); `--bursty` one whose arrivals come in bursts at several times the mean rate, each
 * burst mostly one application's prompts (bursty-trace.ts); `--skewed` one whose prompts share prefixes
 * of Zipf popularity, a few very hot, plus one-off prompts (skewed-trace.ts). `--sweep` runs every
 * policy on all four traces at each worker count, with the offered load scaled to the workers (the
 * Mooncake trace replayed `speedup × workers / 4` faster, the generated ones' sessions or requests a
 * second × workers / 4), so every cell is as loaded per worker as the 4-worker one, and prints one
 * table of all cells.
 *
 * Each worker is a @maas/engine-sim `SimulatedEngine`. The router sees the workers as the gateway does:
 * its own outstanding count per worker, updated at once, and running/waiting/KV usage as of each
 * worker's last heartbeat (gaps drawn within ±1/3 of --heartbeat-ms; 0 reads the engines live),
 * plus its outstanding count as of that heartbeat (`outstandingAtHeartbeat`), so the policy reads
 * each worker's load now, as the gateway does (it notes its outstanding count at each heartbeat it applies);
 * `--heard-load` leaves that out, as the gateway did before.
 * The oracle is one infinite prefix cache that sees every request: no routing can hit more.
 *
 * Defaults and why: a100-qwen2.5-3b, the GPU profile with the most KV and the fastest prefill, since the
 * trace is prefill-heavy (15k prompt tokens, 150 output tokens on average); the llama.cpp profiles
 * prefill 10–30× slower. Speed-up 1.5 gives round-robin ~70 % "prefill load" (uncached prompt tokens
 * over what the workers can prefill) on average and more in the trace's busier second half: queueing
 * dominates its TTFT, yet the backlog stays bounded. Each worker's GPU KV (45,000 × 16 tokens = 1,406
 * trace blocks) is extended by a 155,000-block host tier (LMCache/Mooncake-store style): with GPU KV
 * alone the four caches together hold ~30 % of the trace's reuse at best (an LRU of their pooled
 * size), half the oracle, whatever the router does. engine-sim has one KV tier, so the host tier is
 * simulated as more KV (the note printed at the end checks the running batch stayed within the GPU's).
 * The bursty trace at 12 requests a second per 4 workers averages ~20 % prefill load, so its bursts at
 * 4× overload the cluster about 2× and it drains between them; the skewed trace at 19 a second keeps
 * round-robin's TTFT p99 near 1.5 s with the batch growing (at 24 the workers, decode-bound with
 * ~200 running each, fell behind the arrivals for good, and every policy's TTFT grew with the trace's length).
 *
 * Table and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/routing.json.
 */
import * as path from 'node:path';
import { defineArgs, integerList, parseArgv, runMain, UsageError } from '@maas/cli-args';
import { EngineProfile, findProfile } from '@maas/engine-sim';
import { routingPresets } from '@maas/routing';
import { ProgressBar } from './lib/progress';
import { writeReport } from './lib/report';
import { formatNumber, renderTable } from './lib/table';
import { replayCluster, ReplayResult } from './routing/cluster-replay';
import { policyMetrics, PolicyMetrics } from './routing/metrics';
import { PolicyLine, policyLines, TUNED_YIELD_AT_QUEUE } from './routing/policies';
import { infiniteCacheCeiling, pooledCacheCeiling } from './routing/prefix-oracle';
import { loadTrace, TRACE_BLOCK_TOKENS, TraceRequest } from './routing/trace';
import { conversationTrace, DEFAULT_CONVERSATION } from './routing/conversation-trace';
import { burstyTrace, DEFAULT_BURSTY } from './routing/bursty-trace';
import { DEFAULT_SKEWED, skewedTrace } from './routing/skewed-trace';

const root = path.resolve(__dirname, '..', '..');
const DEFAULT_TRACE = path.resolve(root, '..', 'shared', 'data', 'traces', 'mooncake-synthetic.jsonl');
const TARGETS = { ttftP99Cut: 2, ofOracle: 0.9 };
/** Mean requests a second of the bursty and skewed traces for 4 workers (the header says why). */
const BURSTY_RATE = 12;
const SKEWED_RATE = 19;

/** The shared Mooncake-format trace, or one of the generated ones. */
type TraceKind = 'mooncake' | 'conversation' | 'bursty' | 'skewed';
const TRACE_KINDS: readonly TraceKind[] = ['mooncake', 'conversation', 'bursty', 'skewed'];

interface BenchArgs {
  readonly trace: string;
  /** Which trace a single run replays (`trace` when mooncake). */
  readonly kind: TraceKind;
  readonly workers: number;
  readonly profile: string;
  readonly speedup: number;
  readonly heartbeatMs: number;
  readonly seed: number;
  /** 16-token KV blocks of host memory added to each worker's GPU KV. */
  readonly hostKvBlocks: number;
  /** Batch bound the workers register with; the profile's maxNumSeqs by default. */
  readonly capacity: number | undefined;
  /** Add one line per change of the tuned prefix-load, each alone. */
  readonly ablation: boolean;
  /** Conversation sessions started per second for 4 workers. */
  readonly sessionsPerSecond: number;
  /** Mean requests a second of the bursty and skewed traces, for 4 workers. */
  readonly burstyRate: number;
  readonly skewedRate: number;
  readonly sweep: boolean;
  readonly sweepWorkers: number[];
  /** The router reads load only as last heard (no `outstandingAtHeartbeat`), as the gateway did before it noted it. */
  readonly heardLoad: boolean;
}

const spec = defineArgs({
  command: 'node scripts/run.js bench/routing.ts',
  description: `Round-robin, least-outstanding and prefix+load routing replaying a Mooncake-format trace over
simulated workers in virtual time; the header of bench/routing.ts explains the defaults.`,
  options: {
    trace: {
      type: 'custom',
      parse: (file: string) => path.resolve(file),
      value: 'FILE',
      default: DEFAULT_TRACE,
      help: 'Mooncake-format JSONL trace (default: the shared mooncake-synthetic.jsonl)',
    },
    workers: { type: 'integer', min: 1, default: 4, help: 'simulated workers' },
    profile: { type: 'string', value: 'NAME', default: 'a100-qwen2.5-3b', help: 'engine-sim profile of every worker' },
    speedup: { type: 'number', above: 0, default: 1.5, value: 'X', help: 'replay the trace X times faster' },
    'heartbeat-ms': {
      type: 'number',
      min: 0,
      default: 1500,
      value: 'MS',
      help: "workers' heartbeat period the router sees load through; 0 reads the engines live",
    },
    seed: { type: 'integer', min: 0, default: 1, help: 'seed of heartbeat gaps' },
    'host-kv-blocks': {
      type: 'integer',
      min: 0,
      default: 155_000,
      help: "16-token KV blocks of host memory added to each worker's GPU KV",
    },
    capacity: { type: 'integer', min: 1, help: "batch bound the workers register with (default: the profile's maxNumSeqs)" },
    ablation: { type: 'boolean', help: 'add one line per change of the tuned prefix-load, each alone' },
    conversation: { type: 'boolean', help: 'replay a generated conversation-style trace instead of --trace (seeded by --seed)' },
    bursty: { type: 'boolean', help: 'replay a generated trace of on/off bursts instead of --trace (seeded by --seed)' },
    skewed: {
      type: 'boolean',
      help: 'replay a generated trace of Zipf-popular prefixes and one-off prompts instead of --trace (seeded by --seed)',
    },
    'sessions-per-second': {
      type: 'number',
      above: 0,
      default: 7,
      value: 'X',
      help: 'conversation sessions started per second, for 4 workers',
    },
    'bursty-rate': {
      type: 'number',
      above: 0,
      default: BURSTY_RATE,
      value: 'X',
      help: 'mean requests a second of --bursty, for 4 workers (bursts at 4 times that)',
    },
    'skewed-rate': { type: 'number', above: 0, default: SKEWED_RATE, value: 'X', help: 'requests a second of --skewed, for 4 workers' },
    sweep: { type: 'boolean', help: 'every policy on all four traces at each --sweep-workers count, load scaled per worker; one table' },
    'sweep-workers': { type: 'custom', parse: integerList(1), default: [4, 8, 16], value: '4,8,16', help: 'worker counts of --sweep' },
    'heard-load': {
      type: 'boolean',
      help: "the router reads workers' load only as last heard (no outstanding count as of each heartbeat), as the gateway did before it noted one",
    },
  },
  epilogue: 'Table and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/routing.json.',
});

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgv(spec, argv);
  const generated = (['conversation', 'bursty', 'skewed'] as const).filter((k) => values[k]);
  if (generated.length > 1)
    throw new UsageError(`give at most one of --conversation, --bursty, --skewed; got ${generated.map((k) => `--${k}`).join(' ')}`);
  return {
    trace: values.trace,
    kind: generated[0] ?? 'mooncake',
    workers: values.workers,
    profile: values.profile,
    speedup: values.speedup,
    heartbeatMs: values['heartbeat-ms'],
    seed: values.seed,
    hostKvBlocks: values['host-kv-blocks'],
    capacity: values.capacity,
    ablation: values.ablation,
    sessionsPerSecond: values['sessions-per-second'],
    burstyRate: values['bursty-rate'],
    skewedRate: values['skewed-rate'],
    sweep: values.sweep,
    sweepWorkers: values['sweep-workers'],
    heardLoad: values['heard-load'],
  };
}

interface LineResult {
  readonly line: PolicyLine;
  readonly metrics: PolicyMetrics;
  readonly replay: ReplayResult;
}

const percent = (x: number) => `${(x * 100).toFixed(1)} %`;
const count = (x: number) => Math.round(x).toLocaleString('en-US');

/** The trace of `kind` for `workers` workers: the Mooncake one replayed, or the generated one's arrivals, in proportion to them. */
function traceFor(args: BenchArgs, kind: TraceKind, workers: number): TraceRequest[] {
  const perWorkers = (rate: number) => (rate * workers) / 4;
  switch (kind) {
    case 'mooncake':
      return loadTrace(args.trace, perWorkers(args.speedup));
    case 'conversation':
      return conversationTrace({ ...DEFAULT_CONVERSATION, seed: args.seed, sessionsPerSecond: perWorkers(args.sessionsPerSecond) });
    case 'bursty':
      return burstyTrace({ ...DEFAULT_BURSTY, seed: args.seed, requestsPerSecond: perWorkers(args.burstyRate) });
    case 'skewed':
      return skewedTrace({ ...DEFAULT_SKEWED, seed: args.seed, requestsPerSecond: perWorkers(args.skewedRate) });
  }
}

/** One line saying how each trace's load was scaled to the workers. */
function traceDescription(args: BenchArgs, kind: TraceKind): string {
  switch (kind) {
    case 'mooncake':
      return `mooncake = ${path.basename(args.trace)} replayed at ${args.speedup} × workers/4`;
    case 'conversation':
      return `conversation = ${args.sessionsPerSecond} × workers/4 sessions a second for ${DEFAULT_CONVERSATION.durationSeconds} s`;
    case 'bursty':
      return `bursty = ${args.burstyRate} × workers/4 requests a second on average for ${DEFAULT_BURSTY.durationSeconds} s, bursts at ${DEFAULT_BURSTY.burstFactor}×`;
    case 'skewed':
      return `skewed = ${args.skewedRate} × workers/4 requests a second for ${DEFAULT_SKEWED.durationSeconds} s, Zipf ${DEFAULT_SKEWED.zipfExponent} over ${DEFAULT_SKEWED.prefixes} prefixes`;
  }
}

/** Every policy over one trace and worker count. */
function runPolicies(
  args: BenchArgs,
  profile: EngineProfile,
  trace: readonly TraceRequest[],
  workers: number,
  oracle: { blocks: number; hitRate: number },
  label: string,
): LineResult[] {
  const lines = policyLines(args.seed, profile.kvBlocks, profile.blockSize, args.ablation, profile.prefillTokensPerSecond);
  const progress = new ProgressBar(lines.length * trace.length, `${label} ${lines[0].name}`);
  const results = lines.map((line) => {
    progress.relabel(`${label} ${line.name}`);
    const replay = replayCluster({
      trace,
      workers,
      profile,
      routing: line.config,
      heartbeatMs: args.heartbeatMs,
      seed: args.seed,
      capacity: args.capacity,
      loadSinceHeartbeat: !args.heardLoad,
      onSettled: () => progress.tick(),
    });
    // The host tier only keeps idle prefixes: KV demand is measured against the engine's own KV.
    const engineKvBlocks = profile.kvBlocks - args.hostKvBlocks;
    return { line, replay, metrics: policyMetrics(replay, oracle.blocks, oracle.hitRate, profile.prefillTokensPerSecond, engineKvBlocks) };
  });
  progress.finish();
  return results;
}

/** Every policy on both traces at each worker count: one table, the targets checked for every cell. */
function sweep(args: BenchArgs, profile: EngineProfile): void {
  const out = (s = '') => process.stdout.write(`${s}\n`);
  const cells: { trace: string; workers: number; requests: number; oracleHitRate: number; results: LineResult[] }[] = [];
  for (const kind of TRACE_KINDS) {
    for (const workers of args.sweepWorkers) {
      const trace = traceFor(args, kind, workers);
      const oracle = infiniteCacheCeiling(trace);
      cells.push({
        trace: kind,
        workers,
        requests: trace.length,
        oracleHitRate: oracle.hitRate,
        results: runPolicies(args, profile, trace, workers, oracle, `${kind} ×${workers}`),
      });
    }
  }
  out(`traces (generated ones seeded ${args.seed}): ${TRACE_KINDS.map((k) => traceDescription(args, k)).join('; ')}`);
  out(
    `workers: ${profile.name}, prefill ${count(profile.prefillTokensPerSecond)} tok/s, KV ${count(profile.kvBlocks)} blocks of ${profile.blockSize} tokens (GPU + host tier); heartbeats every ~${formatNumber(args.heartbeatMs / 1000)} s`,
  );
  out(
    "idle-while-queued picks: requests sent to a worker with requests waiting while another had nothing running or waiting (the engines' state at the pick); " +
      'lost: of those, the ones whose first token came later than the idle worker would have given it (its prefill of the uncached prompt, alone); ' +
      'idle-while-queued %: share of arrivals at which such a pair existed, whatever the pick; unused: workers that got no request; ' +
      "KV load: KV blocks running requests held (mean over heartbeats) over the engines' own KV, host tier not counted",
  );
  out();
  const headers = [
    'trace',
    'workers',
    'requests',
    'policy',
    'TTFT p50',
    'TTFT p99',
    'p99 / RR',
    'p99 / LO',
    'hit %',
    'of oracle %',
    'idle-while-queued picks',
    'lost',
    'idle-while-queued %',
    'unused',
    'KV load %',
    'prefill load %',
  ];
  const rows: (string | number)[][] = [];
  const checks: { cell: string; policy: string; check: string; pass: boolean }[] = [];
  for (const cell of cells) {
    const rr = cell.results.find((r) => r.line.name === 'round-robin')!.metrics;
    const lo = cell.results.find((r) => r.line.name === 'least-outstanding')!.metrics;
    for (const { line, metrics: m } of cell.results) {
      rows.push([
        cell.trace,
        cell.workers,
        cell.requests,
        line.name,
        m.ttft.median,
        m.ttft.p99,
        m.ttft.p99 / rr.ttft.p99,
        m.ttft.p99 / lo.ttft.p99,
        m.blockHitRate * 100,
        m.ofOracle * 100,
        m.queuedPicksWhileIdle,
        m.queuedPicksWhileIdleLost,
        m.idleWhileQueued * 100,
        m.unusedWorkers,
        m.kvLoad * 100,
        m.prefillLoad * 100,
      ]);
      if (!line.prefixAware) continue;
      const where = `${cell.trace} ×${cell.workers}`;
      checks.push({
        cell: where,
        policy: line.name,
        check: `TTFT p99 <= least-outstanding's (${formatNumber(m.ttft.p99)} vs ${formatNumber(lo.ttft.p99)} s)`,
        pass: m.ttft.p99 <= lo.ttft.p99,
      });
      if (rr.prefillLoad >= 0.7 || rr.kvLoad >= 0.7)
        checks.push({
          cell: where,
          policy: line.name,
          check: `TTFT p99 >= 2x lower than round-robin's, loaded (${formatNumber(rr.ttft.p99 / m.ttft.p99)}x)`,
          pass: rr.ttft.p99 / m.ttft.p99 >= 2,
        });
      checks.push({
        cell: where,
        policy: line.name,
        check: `hit rate >= 90 % of the oracle's (${percent(m.ofOracle)})`,
        pass: m.ofOracle >= 0.9,
      });
      checks.push({
        cell: where,
        policy: line.name,
        check: `no pick to a queued worker while another idles (${count(m.queuedPicksWhileIdle)} picks, ${count(m.queuedPicksWhileIdleLost)} lost; ${m.unusedWorkers} unused)`,
        pass: m.queuedPicksWhileIdle === 0 && m.unusedWorkers === 0,
      });
    }
  }
  out(renderTable(headers, rows));
  out();
  out("targets per cell (prefix-aware policies; 'loaded' = round-robin's KV load or prefill load >= 70 %)");
  for (const c of checks) out(`${c.pass ? 'PASS' : 'FAIL'}  ${c.cell.padEnd(17)} ${c.policy.trim().padEnd(18)} ${c.check}`);
  const file = writeReport('routing-sweep', {
    args,
    profile: {
      name: profile.name,
      kvBlocks: profile.kvBlocks,
      blockSize: profile.blockSize,
      prefillTokensPerSecond: profile.prefillTokensPerSecond,
    },
    generated: { conversation: DEFAULT_CONVERSATION, bursty: DEFAULT_BURSTY, skewed: DEFAULT_SKEWED },
    cells: cells.map((c) => ({
      trace: c.trace,
      workers: c.workers,
      requests: c.requests,
      oracleHitRate: c.oracleHitRate,
      policies: c.results.map((r) => ({ name: r.line.name, config: r.line.config, metrics: r.metrics })),
    })),
    checks,
  });
  out(`report: ${path.relative(root, file)}`);
}

function main(): void {
  const args = parseBenchArgs(process.argv.slice(2));
  const fitted = findProfile(args.profile);
  const profile: EngineProfile = { ...fitted, kvBlocks: fitted.kvBlocks + args.hostKvBlocks };
  if (args.sweep) return sweep(args, profile);
  const trace = traceFor(args, args.kind, args.workers);
  const traceBlocksPerWorker = Math.floor((profile.kvBlocks * profile.blockSize) / TRACE_BLOCK_TOKENS);
  const engineTraceBlocksPerWorker = Math.floor((fitted.kvBlocks * fitted.blockSize) / TRACE_BLOCK_TOKENS);
  const oracle = infiniteCacheCeiling(trace);
  const pooled = pooledCacheCeiling(trace, args.workers * traceBlocksPerWorker);
  const pooledEngine = pooledCacheCeiling(trace, args.workers * engineTraceBlocksPerWorker);
  const span = trace[trace.length - 1].arrivalSeconds;
  const device = fitted.runtime === 'vllm' ? 'GPU' : 'engine';

  const out = (s = '') => process.stdout.write(`${s}\n`);
  out(
    args.kind === 'mooncake'
      ? `trace: ${path.basename(args.trace)}, ${count(trace.length)} requests over ${formatNumber(span * args.speedup)} s, replayed at ${args.speedup}× (${formatNumber(span)} s)`
      : `trace: ${args.kind} (generated, seed ${args.seed}, scaled to ${args.workers} workers: ${traceDescription(args, args.kind)}), ${count(trace.length)} requests over ${formatNumber(span)} s`,
  );
  out(
    `workers: ${args.workers} × ${profile.name} (prefill ${count(profile.prefillTokensPerSecond)} tok/s, capacity ${args.capacity ?? profile.maxNumSeqs}), ` +
      `KV ${count(profile.kvBlocks)} blocks of ${profile.blockSize} tokens = ${count(traceBlocksPerWorker)} trace blocks each ` +
      `(${device} ${count(fitted.kvBlocks)} + host tier ${count(args.hostKvBlocks)})`,
  );
  out(
    args.heartbeatMs > 0
      ? `heartbeats: every ${formatNumber((args.heartbeatMs * 2) / 3000)}–${formatNumber((args.heartbeatMs * 4) / 3000)} s, seed ${args.seed}`
      : `heartbeats: none, the router reads the engines live; seed ${args.seed}`,
  );
  out(`oracle: one infinite cache over every request hits ${percent(oracle.hitRate)} of ${count(oracle.blocks)} prompt blocks`);
  out(
    `ceiling of this cluster: one LRU cache the size of all ${args.workers} workers' KV (${count(args.workers * traceBlocksPerWorker)} blocks) hits ${percent(pooled.hitRate)}` +
      `; of their ${device} KV alone (${count(args.workers * engineTraceBlocksPerWorker)}) ${percent(pooledEngine.hitRate)}`,
  );
  out();

  const results = runPolicies(args, profile, trace, args.workers, oracle, '');

  const headers = [
    'policy',
    'TTFT mean s',
    'TTFT p50',
    'TTFT p99',
    'E2E p50',
    'E2E p99',
    'hit %',
    'of oracle %',
    'requests per worker',
    'idle-while-queued picks',
    'lost',
    'idle-while-queued %',
    'req/s',
    'tok/s',
    'KV load %',
    'prefill load %',
    'failed',
  ];
  out(
    renderTable(
      headers,
      results.map(({ line, metrics: m }) => [
        line.name,
        m.ttft.mean,
        m.ttft.median,
        m.ttft.p99,
        m.e2e.median,
        m.e2e.p99,
        m.blockHitRate * 100,
        m.ofOracle * 100,
        m.requestsPerWorker.join('/'),
        m.queuedPicksWhileIdle,
        m.queuedPicksWhileIdleLost,
        m.idleWhileQueued * 100,
        m.requestsPerSecond,
        Math.round(m.tokensPerSecond),
        m.kvLoad * 100,
        m.prefillLoad * 100,
        m.failed,
      ]),
    ),
  );
  out();

  const baseline = results.find((r) => r.line.name === 'round-robin') as LineResult;
  const targets = results
    .filter((r) => r.line.prefixAware)
    .map(({ line, metrics: m }) => {
      const cut = baseline.metrics.ttft.p99 / m.ttft.p99;
      return {
        policy: line.name,
        ttftP99Cut: cut,
        ttftPass: cut >= TARGETS.ttftP99Cut,
        ofOracle: m.ofOracle,
        hitPass: m.ofOracle >= TARGETS.ofOracle,
      };
    });
  const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');
  out(
    `targets: TTFT p99 at least ${TARGETS.ttftP99Cut}× lower than round-robin's; prefix-cache hit rate at least ${TARGETS.ofOracle * 100} % of the oracle's`,
  );
  for (const t of targets) {
    out(
      `  ${t.policy.trim().padEnd(22)} TTFT p99 cut ${formatNumber(t.ttftP99Cut)}× ${verdict(t.ttftPass)}   hit ${percent(t.ofOracle)} of oracle ${verdict(t.hitPass)}`,
    );
  }
  out();
  const affinity = routingPresets['prefix-load'].scorers[0];
  out(
    `prefix-load tuned = prefix-load with ${affinity.name} capacityBlocks ${affinity.capacityBlocks} → ${traceBlocksPerWorker} (the worker's KV in trace blocks), ` +
      `yieldAtQueue ${affinity.yieldAtQueue} → ${TUNED_YIELD_AT_QUEUE}, kv-cache scorer removed (bench/routing/policies.ts says why; --ablation runs each change alone)`,
  );
  const peakInUse = Math.max(...results.flatMap((r) => r.replay.workers.map((w) => w.peakKvBlocksInUse)));
  if (args.hostKvBlocks > 0) {
    out(
      `host tier: running requests held at most ${count(peakInUse)} KV blocks at any load sample (${device}: ${count(fitted.kvBlocks)})` +
        (peakInUse <= fitted.kvBlocks
          ? ', so the extra KV only kept idle prefixes, as a host tier would; reloading them is not charged'
          : ': admission was looser than a GPU-only engine would allow'),
    );
  }

  const file = writeReport('routing', {
    args,
    profile: {
      name: profile.name,
      engineKvBlocks: fitted.kvBlocks,
      hostKvBlocks: args.hostKvBlocks,
      blockSize: profile.blockSize,
      traceBlocksPerWorker,
      prefillTokensPerSecond: profile.prefillTokensPerSecond,
    },
    trace: {
      kind: args.kind,
      file: args.kind === 'mooncake' ? args.trace : undefined,
      requests: trace.length,
      replaySeconds: span,
      promptBlocks: oracle.blocks,
    },
    oracle,
    ceilings: { pooledKv: pooled, pooledEngineKv: pooledEngine },
    policies: results.map(({ line, metrics, replay }) => ({
      name: line.name,
      config: line.config,
      metrics,
      workers: replay.workers,
      unrouted: replay.unrouted,
    })),
    targets: { thresholds: TARGETS, results: targets },
  });
  out(`report: ${path.relative(root, file)}`);
}

runMain('bench/routing', main);
