/**
 * Serving benchmark in the style of `vllm bench serve`, against real `maas sim-engine` processes
 * over HTTP (streaming chat completions): TTFT, TPOT, ITL, E2E, throughput and goodput.
 *   sweep    closed loop at each concurrency, the paper's single-question (or summary) workload,
 *            side by side with the paper's latency and throughput
 *   poisson  open loop, exponential gaps;  gamma: gamma gaps (--burstiness)
 *   trace    replay of the Azure LLM conversation trace, time-compressed
 *   ramp     against a running platform (--url, e.g. the gateway): Poisson phases of changing rate,
 *            the load that makes the vm-scaler add and remove workers
 * Usage: node scripts/run.js bench/serving.ts [--mode all|sweep|poisson|gamma|trace] [--help]
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { defineArgs, integerList, parseArgv, runMain, UsageError } from '@maas/cli-args';
import {
  decodeStepSeconds,
  EngineProfile,
  findProfile,
  renderChatPrompt,
  simulateClosedLoop,
  WorkloadName,
  WORKLOADS,
} from '@maas/engine-sim';
import { arrivalGaps } from './lib/arrivals';
import { closedLoop, openLoop } from './lib/load';
import { streamRequest, StreamResult } from './lib/openai-stream';
import { ProgressBar } from './lib/progress';
import { repoRoot, writeReport } from './lib/report';
import { startServerProcess } from './lib/server-process';
import { ServingMetrics, servingMetrics, Slo } from './lib/serving-metrics';
import { formatNumber, renderTable } from './lib/table';

const DEFAULT_PROFILES = ['a100-gpt-oss-20b', 'a100-qwen2.5-3b', 'cpu16-qwen2.5-3b'];
const MAX_AUTO_SCALE = 20;

/** X or auto: a positive number, or 'auto'. */
function scaleOrAuto(text: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  const n = Number(text);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`expected a positive number or auto, got "${text}"`);
  return n;
}

const positive = { type: 'number', above: 0 } as const;
const positiveInt = { type: 'integer', min: 1 } as const;
const MODES = ['sweep', 'poisson', 'gamma', 'trace'] as const;

const spec = defineArgs({
  command: 'node scripts/run.js bench/serving.ts',
  description: `A serving benchmark in the style of \`vllm bench serve\` against real \`maas sim-engine\` processes over
HTTP (streaming chat completions): TTFT, TPOT, ITL, E2E, throughput and goodput. Modes: sweep (closed
loop at each concurrency, beside the paper's figures), poisson and gamma (open loop), trace (the Azure
conversation trace, time-compressed), ramp (phases of changing rate against a running platform).`,
  options: {
    mode: {
      type: 'string',
      choices: ['all', ...MODES, 'ramp'],
      default: 'all',
      value: 'M',
      help: 'all | sweep | poisson | gamma | trace | ramp (default all; ramp is never part of all)',
    },
    profiles: {
      type: 'custom',
      parse: (text: string) => text.split(',').map((name) => findProfile(name.trim())),
      value: 'A,B',
      help: `engine profiles (default ${DEFAULT_PROFILES.join(',')})`,
    },
    workload: {
      type: 'string',
      choices: Object.keys(WORKLOADS) as WorkloadName[],
      default: 'single-question',
      value: 'W',
      help: 'single-question (default) or summary (one shared 6,136-token prompt; table 2)',
    },
    concurrency: {
      type: 'custom',
      parse: integerList(1),
      value: '1,4',
      help: "sweep concurrencies (default: the paper's for each profile and workload)",
    },
    rounds: { ...positiveInt, default: 2, help: 'sweep: requests per client' },
    'num-requests': { ...positiveInt, default: 60, help: 'poisson/gamma: requests per profile' },
    load: { ...positive, default: 0.7, value: 'X', help: "poisson/gamma/trace: offered load as a fraction of the paper's peak throughput" },
    rate: { ...positive, value: 'R', help: 'poisson/gamma: requests per simulated second (overrides --load)' },
    burstiness: { ...positive, default: 0.5, value: 'K', help: 'gamma shape; 1 = Poisson, < 1 burstier' },
    'input-tokens': { ...positiveInt, help: "prompt tokens (default: the workload's, 100)" },
    'output-tokens': { ...positiveInt, help: "output tokens (default: the workload's, 900)" },
    trace: { type: 'string', value: 'FILE', help: 'CSV TIMESTAMP,ContextTokens,GeneratedTokens (default the shared Azure conv trace)' },
    limit: { ...positiveInt, default: 60, help: 'trace: first N requests' },
    'trace-speedup': {
      type: 'custom',
      parse: scaleOrAuto,
      default: 'auto',
      value: 'X|auto',
      help: 'compress trace time X-fold; auto matches --load (default auto)',
    },
    'time-scale': {
      type: 'custom',
      parse: scaleOrAuto,
      default: 'auto',
      value: 'X|auto',
      help: `simulated seconds per wall second; auto keeps the wall token rate near --wall-token-rate (default auto, at most ${MAX_AUTO_SCALE})`,
    },
    'wall-token-rate': { ...positive, default: 30000, help: 'auto time scale budget, streamed tokens per wall second' },
    'slo-ttft': { ...positive, default: 2, value: 'S', help: 'goodput SLO on time to first token, seconds' },
    'slo-tpot': { ...positive, default: 0.1, value: 'S', help: 'goodput SLO on time per output token, seconds' },
    seed: { ...positiveInt, default: 1, help: 'arrival seed' },
    url: {
      type: 'string',
      value: 'URL',
      group: 'ramp (against an OpenAI-compatible endpoint that is already running, in wall-clock time)',
      help: "base URL, e.g. the gateway's http://127.0.0.1:8080 (required with --mode ramp)",
    },
    'api-key': {
      type: 'string',
      value: 'KEY',
      group: 'ramp (against an OpenAI-compatible endpoint that is already running, in wall-clock time)',
      help: 'bearer key (default OPENAI_API_KEY)',
    },
    model: {
      type: 'string',
      value: 'M',
      group: 'ramp (against an OpenAI-compatible endpoint that is already running, in wall-clock time)',
      help: 'model to ask for (required with --mode ramp)',
    },
    ramp: {
      type: 'custom',
      parse: parseRamp,
      value: 'R:S,R:S',
      group: 'ramp (against an OpenAI-compatible endpoint that is already running, in wall-clock time)',
      help: 'phases: R requests per second for S seconds each (default 1:20,8:40,1:40)',
    },
  },
  epilogue: 'Times are simulated seconds (wall time × time scale). JSON goes to artifacts/bench/serving.json.',
});

interface Options {
  modes: Set<string>;
  profiles: EngineProfile[];
  concurrency?: number[];
  rounds: number;
  numRequests: number;
  load: number;
  rate?: number;
  burstiness: number;
  workload: WorkloadName;
  spec: RequestSpec & { samePrompt: boolean };
  trace: string;
  limit: number;
  traceSpeedup: number | 'auto';
  timeScale: number | 'auto';
  wallTokenRate: number;
  slo: Slo;
  seed: number;
  target?: { url: string; apiKey?: string; model: string };
  ramp: RampPhase[];
}

interface RampPhase {
  readonly rate: number;
  readonly seconds: number;
}

interface RequestSpec {
  readonly promptTokens: number;
  readonly outputTokens: number;
}

interface Run {
  readonly mode: string;
  readonly profile: string;
  readonly timeScale: number;
  readonly label: string;
  readonly requests: number;
  readonly metrics: ServingMetrics;
  readonly paper?: { latencySeconds?: number; tokensPerSecond: number };
  readonly model?: { latencySeconds: number; tokensPerSecond: number };
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgv(spec, argv);
  const usage = (message: string) => new UsageError(message, spec.command);
  const mode = values.mode;
  if (mode === 'ramp' && !(values.url && values.model)) throw usage('--mode ramp needs --url (the platform, e.g. the gateway) and --model');
  if (mode !== 'ramp' && (values.url || values.ramp)) throw usage('--url and --ramp go with --mode ramp');
  const workload = values.workload;
  return {
    modes: new Set(mode === 'all' ? MODES : [mode]),
    profiles: values.profiles ?? DEFAULT_PROFILES.map((name) => findProfile(name)),
    concurrency: values.concurrency,
    rounds: values.rounds,
    numRequests: values['num-requests'],
    load: values.load,
    rate: values.rate,
    burstiness: values.burstiness,
    workload,
    spec: {
      promptTokens: values['input-tokens'] ?? WORKLOADS[workload].promptTokens,
      outputTokens: values['output-tokens'] ?? WORKLOADS[workload].outputTokens,
      samePrompt: WORKLOADS[workload].samePrompt ?? false,
    },
    trace: values.trace ?? path.resolve(repoRoot(), '..', 'shared', 'data', 'traces', 'azure-llm-2023-conv.csv'),
    limit: values.limit,
    traceSpeedup: values['trace-speedup'],
    timeScale: values['time-scale'],
    wallTokenRate: values['wall-token-rate'],
    slo: { ttftSeconds: values['slo-ttft'], tpotSeconds: values['slo-tpot'] },
    seed: values.seed,
    target:
      values.url && values.model
        ? { url: values.url.replace(/\/+$/, ''), apiKey: values['api-key'] ?? process.env.OPENAI_API_KEY, model: values.model }
        : undefined,
    ramp: values.ramp ?? parseRamp('1:20,8:40,1:40'),
  };
}

/** `R:S,R:S`: R requests per second for S seconds, phase after phase. */
function parseRamp(text: string): RampPhase[] {
  return text.split(',').map((part) => {
    const [rate, seconds, extra] = part.split(':').map((x) => Number(x.trim()));
    if (extra !== undefined || !(rate >= 0 && Number.isFinite(rate)) || !(seconds > 0 && Number.isFinite(seconds))) {
      throw new Error(`expected RATE:SECONDS[,RATE:SECONDS…] with RATE >= 0 and SECONDS > 0, got "${part}"`);
    }
    return { rate, seconds };
  });
}

/** The paper's best throughput for a profile, tokens/s: what --load is a fraction of. */
function peakTokensPerSecond(profile: EngineProfile): number {
  return Math.max(...profile.measured.filter((m) => m.workload === 'single-question').map((m) => m.tokensPerSecond));
}

/** Fastest simulated clock whose streamed tokens per wall second stay within budget. */
function chooseScale(options: Options, simulatedTokensPerSecond: number): number {
  if (options.timeScale !== 'auto') return options.timeScale;
  return Math.max(1, Math.min(MAX_AUTO_SCALE, Math.floor(options.wallTokenRate / simulatedTokensPerSecond)));
}

/** A chat prompt that the simulator counts as exactly `tokens` tokens; the id keeps prefixes apart unless all share one prompt. */
function chatBody(model: string, index: number, spec: RequestSpec & { samePrompt?: boolean }): object {
  const overhead = Buffer.byteLength(renderChatPrompt([{ role: 'user', content: '' }]));
  const bytes = Math.max(8, spec.promptTokens * 4 - overhead);
  const content = (spec.samePrompt ? 'Summarise: ' : `[q${index}] `).padEnd(bytes, 'ask me anything ').slice(0, bytes);
  return {
    model,
    messages: [{ role: 'user', content }],
    max_tokens: spec.outputTokens,
    ignore_eos: true,
    stream_options: { include_usage: true },
  };
}

async function withEngine<T>(profile: EngineProfile, timeScale: number, body: (url: string, agent: http.Agent) => Promise<T>): Promise<T> {
  // `maas sim-engine` from the dist/ that scripts/run.js just built: bin/maas.js would rebuild on
  // every start, and a rebuild racing someone's half-saved file would fail the run.
  const main = path.join(repoRoot(), 'dist', 'cli', 'main.js');
  const maas = `require(${JSON.stringify(main)}).main(process.argv.slice(1)).then((code) => { process.exitCode = code; })`;
  const server = await startServerProcess(process.execPath, [
    '-e',
    maas,
    'sim-engine',
    '--profile',
    profile.name,
    '--port',
    '0',
    '--time-scale',
    String(timeScale),
  ]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  try {
    // One untimed request first, as vllm bench does: connection set-up and JIT warm-up are not the engine.
    const warmUp = await streamRequest(
      `${server.url}/v1/chat/completions`,
      chatBody(profile.model, -1, { promptTokens: 16, outputTokens: 2 }),
      agent,
    );
    if (!warmUp.ok) throw new Error(`warm-up request to ${profile.name} failed: ${warmUp.error}`);
    return await body(server.url, agent);
  } finally {
    agent.destroy();
    await server.stop();
  }
}

async function runRequests(
  url: string,
  agent: http.Agent,
  model: string,
  specs: ReadonlyArray<RequestSpec & { samePrompt?: boolean }>,
  progress: ProgressBar,
  schedule: { kind: 'closed'; concurrency: number } | { kind: 'open'; offsetsMs: number[] },
): Promise<StreamResult[]> {
  const send = async (i: number) => {
    const result = await streamRequest(`${url}/v1/chat/completions`, chatBody(model, i, specs[i]), agent);
    progress.tick();
    return result;
  };
  if (schedule.kind === 'closed') return closedLoop(schedule.concurrency, specs.length / schedule.concurrency, send);
  return openLoop(schedule.offsetsMs, send);
}

/** The paper's concurrencies for this profile and workload; the single-question ones if it has none. */
function sweepLevels(options: Options, profile: EngineProfile): number[] {
  if (options.concurrency) return options.concurrency;
  const of = (w: WorkloadName) => profile.measured.filter((m) => m.workload === w).map((m) => m.concurrency);
  return of(options.workload).length > 0 ? of(options.workload) : of('single-question');
}

async function sweep(options: Options, profile: EngineProfile, progress: ProgressBar): Promise<Run[]> {
  const runs: Run[] = [];
  const workload = WORKLOADS[options.workload];
  const spec = options.spec;
  const levels = sweepLevels(options, profile);
  for (const c of levels) {
    const scale = chooseScale(options, c / decodeStepSeconds(profile, c));
    progress.relabel(`sweep ${profile.name} c=${c} x${scale}`);
    const specs = Array.from({ length: c * options.rounds }, () => spec);
    const results = await withEngine(profile, scale, (url, agent) =>
      runRequests(url, agent, profile.model, specs, progress, { kind: 'closed', concurrency: c }),
    );
    const paper = profile.measured.find((m) => m.workload === options.workload && m.concurrency === c);
    const sameWorkload = spec.promptTokens === workload.promptTokens && spec.outputTokens === workload.outputTokens;
    const model = simulateClosedLoop(profile, { ...workload, ...spec }, c, options.rounds);
    runs.push({
      mode: 'sweep',
      profile: profile.name,
      timeScale: scale,
      label: `c=${c}`,
      requests: specs.length,
      metrics: servingMetrics(results, options.slo, scale / 1000),
      paper: sameWorkload && paper ? { latencySeconds: paper.latencySeconds, tokensPerSecond: paper.tokensPerSecond } : undefined,
      model: { latencySeconds: model.latencySeconds, tokensPerSecond: model.tokensPerSecond },
    });
  }
  return runs;
}

async function openLoopRun(options: Options, profile: EngineProfile, mode: 'poisson' | 'gamma', progress: ProgressBar): Promise<Run> {
  const spec = { ...options.spec, samePrompt: false };
  const rate = options.rate ?? (options.load * peakTokensPerSecond(profile)) / (spec.promptTokens + spec.outputTokens);
  const burstiness = mode === 'poisson' ? 1 : options.burstiness;
  const scale = chooseScale(options, 1.5 * rate * spec.outputTokens);
  progress.relabel(`${mode} ${profile.name} ${rate.toFixed(2)} req/s x${scale}`);
  const gaps = arrivalGaps(options.numRequests, rate, burstiness, options.seed);
  let at = 0;
  const offsetsMs = gaps.map((g) => {
    const offset = (at * 1000) / scale;
    at += g;
    return offset;
  });
  const specs = gaps.map(() => spec);
  const results = await withEngine(profile, scale, (url, agent) =>
    runRequests(url, agent, profile.model, specs, progress, { kind: 'open', offsetsMs }),
  );
  const label = mode === 'poisson' ? `${rate.toFixed(2)} req/s` : `${rate.toFixed(2)} req/s, k=${burstiness}`;
  return {
    mode,
    profile: profile.name,
    timeScale: scale,
    label,
    requests: specs.length,
    metrics: servingMetrics(results, options.slo, scale / 1000),
  };
}

function readTrace(file: string, limit: number): Array<RequestSpec & { at: number }> {
  const lines = fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1, limit + 1);
  const rows = lines.map((line, i) => {
    const [stamp, context, generated] = line.split(',');
    const at = Date.parse(`${stamp.trim().replace(' ', 'T').slice(0, 23)}Z`) / 1000;
    const promptTokens = Number(context);
    const outputTokens = Math.max(1, Number(generated));
    if (!Number.isFinite(at) || !(promptTokens > 0)) throw new Error(`${file}:${i + 2}: cannot read "${line}"`);
    return { at, promptTokens, outputTokens };
  });
  const t0 = rows[0]?.at ?? 0;
  return rows.map((r) => ({ ...r, at: r.at - t0 }));
}

async function traceRun(options: Options, profile: EngineProfile, progress: ProgressBar): Promise<Run> {
  const rows = readTrace(options.trace, options.limit);
  const span = Math.max(rows[rows.length - 1].at, 1e-3);
  const traceTokensPerSecond = rows.reduce((s, r) => s + r.promptTokens + r.outputTokens, 0) / span;
  const speedup =
    options.traceSpeedup === 'auto' ? (options.load * peakTokensPerSecond(profile)) / traceTokensPerSecond : options.traceSpeedup;
  const outputRate = (rows.reduce((s, r) => s + r.outputTokens, 0) / span) * speedup;
  const scale = chooseScale(options, 1.5 * outputRate);
  progress.relabel(`trace ${profile.name} speedup ${speedup.toFixed(2)} x${scale}`);
  const offsetsMs = rows.map((r) => ((r.at / speedup) * 1000) / scale);
  const results = await withEngine(profile, scale, (url, agent) =>
    runRequests(url, agent, profile.model, rows, progress, { kind: 'open', offsetsMs }),
  );
  return {
    mode: 'trace',
    profile: profile.name,
    timeScale: scale,
    label: `${path.basename(options.trace)} at ${speedup.toFixed(2)}x`,
    requests: rows.length,
    metrics: servingMetrics(results, options.slo, scale / 1000),
  };
}

interface RampRun {
  readonly phase: number;
  readonly rate: number;
  readonly seconds: number;
  readonly startedAt: string;
  readonly requests: number;
  readonly metrics: ServingMetrics;
  /** "status message" → count, for the requests that failed. */
  readonly errors: Record<string, number>;
}

/** Poisson arrivals per phase, wall-clock offsets from the start of the ramp. */
function rampSchedule(ramp: readonly RampPhase[], seed: number): { phase: number; offsetMs: number }[] {
  const planned: { phase: number; offsetMs: number }[] = [];
  let phaseStart = 0;
  ramp.forEach((phase, k) => {
    if (phase.rate > 0) {
      let t = 0;
      for (const gap of arrivalGaps(Math.ceil(phase.rate * phase.seconds * 2) + 20, phase.rate, 1, seed + k)) {
        t += gap;
        if (t >= phase.seconds) break;
        planned.push({ phase: k, offsetMs: (phaseStart + t) * 1000 });
      }
    }
    phaseStart += phase.seconds;
  });
  return planned;
}

async function rampRun(options: Options, target: NonNullable<Options['target']>): Promise<RampRun[]> {
  const planned = rampSchedule(options.ramp, options.seed);
  const progress = new ProgressBar(planned.length, `ramp ${options.ramp.map((p) => `${p.rate}/s×${p.seconds}s`).join(' → ')}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const headers: Record<string, string> = target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {};
  const spec = { ...options.spec, samePrompt: false };
  const started = Date.now();
  const totalMs = options.ramp.reduce((s, p) => s + p.seconds, 0) * 1000;
  let results: StreamResult[];
  try {
    results = await openLoop(
      planned.map((p) => p.offsetMs),
      async (i) => {
        const result = await streamRequest(`${target.url}/v1/chat/completions`, chatBody(target.model, i, spec), agent, headers);
        progress.tick();
        return result;
      },
    );
    // a quiet last phase is part of the ramp too
    await new Promise((r) => setTimeout(r, Math.max(0, totalMs - (Date.now() - started))));
  } finally {
    agent.destroy();
  }
  progress.finish();
  let phaseStart = 0;
  return options.ramp.map((phase, k) => {
    const mine = results.filter((_r, i) => planned[i].phase === k);
    const errors: Record<string, number> = {};
    for (const r of mine.filter((x) => !x.ok)) {
      const what = `${r.status} ${r.error ?? ''}`.trim();
      errors[what] = (errors[what] ?? 0) + 1;
    }
    const run: RampRun = {
      phase: k + 1,
      rate: phase.rate,
      seconds: phase.seconds,
      startedAt: new Date(started + phaseStart * 1000).toISOString(),
      requests: mine.length,
      metrics: servingMetrics(mine, options.slo),
      errors,
    };
    phaseStart += phase.seconds;
    return run;
  });
}

function rampTable(runs: readonly RampRun[]): string {
  const ms = (s: number) => formatNumber(s * 1000);
  return renderTable(
    ['phase', 'started', 'offered req/s', 's', 'req', 'fail', 'req/s', 'out tok/s', 'TTFT med/p99 ms', 'E2E med/p99 s'],
    runs.map((r) => [
      r.phase,
      r.startedAt.slice(11, 19),
      r.rate,
      r.seconds,
      r.requests,
      r.metrics.failed,
      r.metrics.requestsPerSecond,
      r.metrics.outputTokensPerSecond,
      r.requests - r.metrics.failed > 0 ? `${ms(r.metrics.ttft.median)} / ${ms(r.metrics.ttft.p99)}` : '-',
      r.requests - r.metrics.failed > 0 ? `${formatNumber(r.metrics.e2e.median)} / ${formatNumber(r.metrics.e2e.p99)}` : '-',
    ]),
  );
}

async function rampMain(options: Options, target: NonNullable<Options['target']>): Promise<number> {
  const runs = await rampRun(options, target);
  const failed = runs.reduce((s, r) => s + r.metrics.failed, 0);
  const errors = runs.flatMap((r) => Object.entries(r.errors).map(([what, n]) => `phase ${r.phase}: ${n} × ${what}`));
  const notes = [
    `${target.url}, model ${target.model}; streaming chat, prompt ${options.spec.promptTokens} + output ${options.spec.outputTokens} tokens (ignore_eos); Poisson arrivals per phase, seed ${options.seed}; wall-clock times`,
    `${runs.reduce((s, r) => s + r.requests, 0)} requests, ${failed} failed`,
    ...errors,
  ];
  const file = writeReport('serving-ramp', {
    generatedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    notes,
    slo: options.slo,
    ramp: runs,
  });
  process.stdout.write(
    `## ramp\n${rampTable(runs)}\n${notes.map((n) => `- ${n}`).join('\n')}\n- results: ${path.relative(process.cwd(), file)}\n`,
  );
  return failed > 0 ? 1 : 0;
}

function ratio(ours: number, theirs: number | undefined): string {
  return theirs === undefined ? '-' : (ours / theirs).toFixed(2);
}

function sweepTable(runs: readonly Run[]): string {
  return renderTable(
    [
      'profile',
      'conc',
      'scale',
      'paper lat s',
      'ours lat s',
      'ratio',
      'paper tok/s',
      'ours tok/s',
      'ratio',
      'model lat s',
      'TTFT mean',
      'TPOT ms',
      'E2E p99',
      'fail',
    ],
    runs.map((r) => [
      r.profile,
      r.label.replace('c=', ''),
      r.timeScale,
      r.paper?.latencySeconds ?? '-',
      r.metrics.e2e.mean,
      ratio(r.metrics.e2e.mean, r.paper?.latencySeconds),
      r.paper?.tokensPerSecond ?? '-',
      r.metrics.totalTokensPerSecond,
      ratio(r.metrics.totalTokensPerSecond, r.paper?.tokensPerSecond),
      r.model?.latencySeconds ?? '-',
      r.metrics.ttft.mean,
      r.metrics.tpot.mean * 1000,
      r.metrics.e2e.p99,
      r.metrics.failed,
    ]),
  );
}

function servingTable(runs: readonly Run[], slo: Slo): string {
  const ms = (s: number) => s * 1000;
  return (
    renderTable(
      [
        'mode',
        'profile',
        'load',
        'scale',
        'req',
        'fail',
        'req/s',
        'out tok/s',
        `goodput req/s`,
        'TTFT mean/med/p99 ms',
        'TPOT mean/med/p99 ms',
        'ITL mean/med/p99 ms',
        'E2E mean/med/p99 s',
      ],
      runs.map((r) => {
        const m = r.metrics;
        const three = (s: { mean: number; median: number; p99: number }, f: (x: number) => number) =>
          [s.mean, s.median, s.p99].map((x) => formatNumber(f(x))).join(' / ');
        return [
          r.mode,
          r.profile,
          r.label,
          r.timeScale,
          r.requests,
          m.failed,
          m.requestsPerSecond,
          m.outputTokensPerSecond,
          m.goodputRequestsPerSecond,
          three(m.ttft, ms),
          three(m.tpot, ms),
          three(m.itl, ms),
          three(m.e2e, (x) => x),
        ];
      }),
    ) + `\ngoodput SLO: TTFT <= ${slo.ttftSeconds} s and TPOT <= ${slo.tpotSeconds * 1000} ms`
  );
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.target) return rampMain(options, options.target);
  const started = Date.now();
  const levels = (p: EngineProfile) => sweepLevels(options, p);
  let total = 0;
  for (const p of options.profiles) {
    if (options.modes.has('sweep')) total += levels(p).reduce((s, c) => s + c * options.rounds, 0);
    if (options.modes.has('poisson')) total += options.numRequests;
    if (options.modes.has('gamma')) total += options.numRequests;
    if (options.modes.has('trace')) total += options.limit;
  }
  const progress = new ProgressBar(total, 'serving');
  const sweeps: Run[] = [];
  const open: Run[] = [];
  for (const profile of options.profiles) {
    if (options.modes.has('sweep')) sweeps.push(...(await sweep(options, profile, progress)));
    if (options.modes.has('poisson')) open.push(await openLoopRun(options, profile, 'poisson', progress));
    if (options.modes.has('gamma')) open.push(await openLoopRun(options, profile, 'gamma', progress));
    if (options.modes.has('trace')) open.push(await traceRun(options, profile, progress));
  }
  progress.finish();
  const wallSeconds = (Date.now() - started) / 1000;
  const notes = [
    `maas sim-engine over HTTP, streaming chat completions; prompt ${options.spec.promptTokens} + output ${options.spec.outputTokens} tokens (ignore_eos) unless a trace says otherwise; sweep workload: ${WORKLOADS[options.workload].description}`,
    `times are simulated seconds: the engine's clock ran "scale" times faster than the wall clock and client timings were multiplied back; ITL resolution is ~1 ms wall x scale`,
    `sweep: c clients x ${options.rounds} requests back to back (the paper's setup); tok/s counts prompt + output tokens, as the paper does; "model" is the same experiment in virtual time without HTTP`,
    `wall time ${wallSeconds.toFixed(0)} s`,
  ];
  const out: string[] = [];
  if (sweeps.length > 0) out.push(`## concurrency sweep vs the paper (${WORKLOADS[options.workload].description})`, sweepTable(sweeps), '');
  if (open.length > 0) out.push('## open loop and trace replay', servingTable(open, options.slo), '');
  out.push(...notes.map((n) => `- ${n}`));
  const file = writeReport('serving', {
    generatedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    notes,
    slo: options.slo,
    sweep: sweeps,
    openLoop: open,
  });
  process.stdout.write(`${out.join('\n')}\n- results: ${path.relative(process.cwd(), file)}\n`);
  const failed = [...sweeps, ...open].reduce((s, r) => s + r.metrics.failed, 0);
  return failed > 0 ? 1 : 0;
}

runMain('bench/serving', main);
