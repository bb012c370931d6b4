/**
 * Routing benchmark: round-robin, least-outstanding and prefix+load (@maas/routing presets, plus a
 * tuned prefix+load) replaying a Mooncake-format trace over simulated workers in virtual time.
 *
 *   node scripts/run.js bench/routing.ts [--trace FILE] [--workers N] [--profile NAME] [--speedup X]
 *        [--heartbeat-ms MS] [--seed N] [--host-kv-blocks N] [--capacity N] [--ablation]
 *
 * Each worker is a @maas/engine-sim `SimulatedEngine`. The router sees the workers as the gateway does:
 * its own outstanding count per worker, updated at once, and running/waiting/KV usage as of each
 * worker's last heartbeat (gaps drawn within ±1/3 of --heartbeat-ms; 0 reads the engines live).
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
 *
 * Table and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/routing.json.
 */
import * as path from 'node:path';
import { defineArgs, parseArgv, runMain } from '@maas/cli-args';
import { EngineProfile, findProfile } from '@maas/engine-sim';
import { routingPresets } from '@maas/routing';
import { ProgressBar } from './lib/progress';
import { writeReport } from './lib/report';
import { formatNumber, renderTable } from './lib/table';
import { replayCluster, ReplayResult } from './routing/cluster-replay';
import { policyMetrics, PolicyMetrics } from './routing/metrics';
import { PolicyLine, policyLines, TUNED_YIELD_AT_QUEUE } from './routing/policies';
import { infiniteCacheCeiling, pooledCacheCeiling } from './routing/prefix-oracle';
import { loadTrace, TRACE_BLOCK_TOKENS } from './routing/trace';

const root = path.resolve(__dirname, '..', '..');
const DEFAULT_TRACE = path.resolve(root, '..', 'shared', 'data', 'traces', 'mooncake-synthetic.jsonl');
const TARGETS = { ttftP99Cut: 2, ofOracle: 0.9 };

interface BenchArgs {
  readonly trace: string;
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
}

const spec = defineArgs({
  command: 'node scripts/run.js bench/routing.ts',
  description: `Round-robin, least-outstanding and prefix+load routing replaying a Mooncake-format trace over
simulated workers in virtual time; the header of bench/routing.ts explains the defaults.`,
  options: {
    trace: { type: 'custom', parse: (file: string) => path.resolve(file), value: 'FILE', default: DEFAULT_TRACE, help: 'Mooncake-format JSONL trace (default: the shared mooncake-synthetic.jsonl)' },
    workers: { type: 'integer', min: 1, default: 4, help: 'simulated workers' },
    profile: { type: 'string', value: 'NAME', default: 'a100-qwen2.5-3b', help: 'engine-sim profile of every worker' },
    speedup: { type: 'number', above: 0, default: 1.5, value: 'X', help: 'replay the trace X times faster' },
    'heartbeat-ms': { type: 'number', min: 0, default: 1500, value: 'MS', help: "workers' heartbeat period the router sees load through; 0 reads the engines live" },
    seed: { type: 'integer', min: 0, default: 1, help: 'seed of heartbeat gaps' },
    'host-kv-blocks': { type: 'integer', min: 0, default: 155_000, help: "16-token KV blocks of host memory added to each worker's GPU KV" },
    capacity: { type: 'integer', min: 1, help: "batch bound the workers register with (default: the profile's maxNumSeqs)" },
    ablation: { type: 'boolean', help: 'add one line per change of the tuned prefix-load, each alone' },
  },
  epilogue: 'Table and PASS/FAIL on stdout, progress on stderr, JSON to artifacts/bench/routing.json.',
});

function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgv(spec, argv);
  return {
    trace: values.trace,
    workers: values.workers,
    profile: values.profile,
    speedup: values.speedup,
    heartbeatMs: values['heartbeat-ms'],
    seed: values.seed,
    hostKvBlocks: values['host-kv-blocks'],
    capacity: values.capacity,
    ablation: values.ablation,
  };
}

interface LineResult {
  readonly line: PolicyLine;
  readonly metrics: PolicyMetrics;
  readonly replay: ReplayResult;
}

const percent = (x: number) => `${(x * 100).toFixed(1)} %`;
const count = (x: number) => Math.round(x).toLocaleString('en-US');

function main(): void {
  const args = parseBenchArgs(process.argv.slice(2));
  const fitted = findProfile(args.profile);
  const profile: EngineProfile = { ...fitted, kvBlocks: fitted.kvBlocks + args.hostKvBlocks };
  const trace = loadTrace(args.trace, args.speedup);
  const traceBlocksPerWorker = Math.floor((profile.kvBlocks * profile.blockSize) / TRACE_BLOCK_TOKENS);
  const engineTraceBlocksPerWorker = Math.floor((fitted.kvBlocks * fitted.blockSize) / TRACE_BLOCK_TOKENS);
  const oracle = infiniteCacheCeiling(trace);
  const pooled = pooledCacheCeiling(trace, args.workers * traceBlocksPerWorker);
  const pooledEngine = pooledCacheCeiling(trace, args.workers * engineTraceBlocksPerWorker);
  const span = trace[trace.length - 1].arrivalSeconds;
  const device = fitted.runtime === 'vllm' ? 'GPU' : 'engine';

  const out = (s = '') => process.stdout.write(`${s}\n`);
  out(`trace: ${path.basename(args.trace)}, ${count(trace.length)} requests over ${formatNumber(span * args.speedup)} s, replayed at ${args.speedup}× (${formatNumber(span)} s)`);
  out(
    `workers: ${args.workers} × ${profile.name} (prefill ${count(profile.prefillTokensPerSecond)} tok/s, capacity ${args.capacity ?? profile.maxNumSeqs}), ` +
      `KV ${count(profile.kvBlocks)} blocks of ${profile.blockSize} tokens = ${count(traceBlocksPerWorker)} trace blocks each ` +
      `(${device} ${count(fitted.kvBlocks)} + host tier ${count(args.hostKvBlocks)})`,
  );
  out(args.heartbeatMs > 0 ? `heartbeats: every ${formatNumber((args.heartbeatMs * 2) / 3000)}–${formatNumber((args.heartbeatMs * 4) / 3000)} s, seed ${args.seed}` : `heartbeats: none, the router reads the engines live; seed ${args.seed}`);
  out(`oracle: one infinite cache over every request hits ${percent(oracle.hitRate)} of ${count(oracle.blocks)} prompt blocks`);
  out(
    `ceiling of this cluster: one LRU cache the size of all ${args.workers} workers' KV (${count(args.workers * traceBlocksPerWorker)} blocks) hits ${percent(pooled.hitRate)}` +
      `; of their ${device} KV alone (${count(args.workers * engineTraceBlocksPerWorker)}) ${percent(pooledEngine.hitRate)}`,
  );
  out();

  const lines = policyLines(args.seed, profile.kvBlocks, profile.blockSize, args.ablation);
  const progress = new ProgressBar(lines.length * trace.length, lines[0].name);
  const results: LineResult[] = lines.map((line) => {
    progress.relabel(line.name);
    const replay = replayCluster({
      trace,
      workers: args.workers,
      profile,
      routing: line.config,
      heartbeatMs: args.heartbeatMs,
      seed: args.seed,
      capacity: args.capacity,
      onSettled: () => progress.tick(),
    });
    return { line, replay, metrics: policyMetrics(replay, oracle.blocks, oracle.hitRate, profile.prefillTokensPerSecond) };
  });
  progress.finish();

  const headers = ['policy', 'TTFT mean s', 'TTFT p50', 'TTFT p99', 'E2E p50', 'E2E p99', 'hit %', 'of oracle %', 'requests per worker', 'req/s', 'tok/s', 'prefill load %', 'failed'];
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
        m.requestsPerSecond,
        Math.round(m.tokensPerSecond),
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
  out(`targets: TTFT p99 at least ${TARGETS.ttftP99Cut}× lower than round-robin's; prefix-cache hit rate at least ${TARGETS.ofOracle * 100} % of the oracle's`);
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
        (peakInUse <= fitted.kvBlocks ? ', so the extra KV only kept idle prefixes, as a host tier would; reloading them is not charged' : ': admission was looser than a GPU-only engine would allow'),
    );
  }

  const file = writeReport('routing', {
    args,
    profile: { name: profile.name, engineKvBlocks: fitted.kvBlocks, hostKvBlocks: args.hostKvBlocks, blockSize: profile.blockSize, traceBlocksPerWorker, prefillTokensPerSecond: profile.prefillTokensPerSecond },
    trace: { file: args.trace, requests: trace.length, replaySeconds: span, promptBlocks: oracle.blocks },
    oracle,
    ceilings: { pooledKv: pooled, pooledEngineKv: pooledEngine },
    policies: results.map(({ line, metrics, replay }) => ({ name: line.name, config: line.config, metrics, workers: replay.workers, unrouted: replay.unrouted })),
    targets: { thresholds: TARGETS, results: targets },
  });
  out(`report: ${path.relative(root, file)}`);
}

runMain('bench/routing', main);
