/**
 * Batch API benchmark: the paper's summarisation workload submitted as one OpenAI batch through the
 * official SDK, against the real stack (NATS, router, key-registry, metrics-collector, the gateway
 * with its database) and `a100-gpt-oss-20b` workers (two by default), each attached to a simulated
 * vLLM in its own process.
 *   1. peak      closed loop straight at one worker (no gateway) at several concurrencies: the
 *                profile's best output throughput on the same requests, and its best concurrency
 *                (the gateway starts after, with GATEWAY_BATCH_CONCURRENCY set from it)
 *   2. baseline  interactive streaming chat through the gateway, Poisson arrivals, no batch
 *   3. batch     the batch runs while the same interactive load runs through the gateway
 * The gateway keeps GATEWAY_INTERACTIVE_LANE workers free of batch work; the batch runs on the others
 * (on every worker, sharing spare slots, when there are no others).
 * Targets: batch output throughput >= 90 % of the peak per worker it runs on; interactive TTFT p99
 * with the batch within 20 % of the baseline's.
 * Usage: node scripts/run.js bench/batch.ts [--requests N] [--time-scale X] [--interactive-rate R] [--help]
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from 'nats';
import { defineArgs, integerList, parseArgv, runMain } from '@maas/cli-args';
import OpenAI, { toFile } from 'openai';
import { Subjects } from '@maas/contracts';
import { findProfile, renderChatPrompt, WORKLOADS } from '@maas/engine-sim';
import { MessageBus } from '@maas/nats';
import { createTestDatabase, deleteStreams, startNode, startService, testNamespace, testNatsUrl } from '@maas/testing';
import { batchDayMain } from './batch-day/cli';
import { arrivalGaps } from './lib/arrivals';
import { closedLoop } from './lib/load';
import { streamRequest, StreamResult } from './lib/openai-stream';
import { ProgressBar } from './lib/progress';
import { ServerProcess, startServerProcess } from './lib/server-process';
import { repoRoot, writeReport } from './lib/report';
import { servingMetrics, ServingMetrics } from './lib/serving-metrics';
import { formatNumber, renderTable } from './lib/table';

const PROFILE = 'a100-gpt-oss-20b';
const positiveInt = { type: 'integer', min: 1 } as const;

const spec = defineArgs({
  command: 'node scripts/run.js bench/batch.ts',
  description: `The paper's summarisation workload as one OpenAI batch through the real stack, alone at one worker
(peak), then beside interactive streaming chat; the header of bench/batch.ts explains the phases.`,
  options: {
    requests: { ...positiveInt, default: 2000, help: 'batch size' },
    replicas: { ...positiveInt, default: 2, help: 'workers of the model, each with its own simulated vLLM' },
    'interactive-lane': {
      type: 'integer',
      min: 0,
      default: 1,
      value: 'K',
      help: "GATEWAY_INTERACTIVE_LANE: workers kept free of batch work (default 1); with --replicas 1 (or K >= replicas) the batch shares the workers' spare slots",
    },
    'time-scale': {
      type: 'number',
      above: 0,
      default: 5,
      value: 'X',
      help: 'simulated seconds per wall second for the workers (default 5, ~12 min for 2,000 requests). Client timings are wall x X, so host delays the engine does not cause (a gateway GC pause of 10 ms reads as 10 x X ms) weigh X times more: at 20 the TTFT p99 of both phases is mostly such pauses',
    },
    'interactive-rate': {
      type: 'number',
      above: 0,
      default: 0.2,
      value: 'R',
      help: 'interactive streaming chat requests per simulated second',
    },
    'interactive-requests': {
      ...positiveInt,
      default: 200,
      help: 'baseline phase: interactive requests (default 200, so its p99 is not one outlier)',
    },
    'peak-concurrency': {
      type: 'custom',
      parse: integerList(1),
      default: [16, 32, 48, 64, 128],
      value: 'A,B',
      help: 'closed-loop concurrencies straight at the worker',
    },
    'peak-rounds': { ...positiveInt, default: 2, help: 'requests per closed-loop client' },
    'input-tokens': {
      ...positiveInt,
      default: WORKLOADS.summary.promptTokens,
      help: `batch prompt tokens (default ${WORKLOADS.summary.promptTokens}, the paper's summarised paper)`,
    },
    'output-tokens': {
      ...positiveInt,
      default: WORKLOADS.summary.outputTokens,
      help: `batch output tokens (default ${WORKLOADS.summary.outputTokens}, bench/serving's summary workload)`,
    },
    'same-prompt': {
      type: 'boolean',
      help: 'every batch request summarises the same paper (prefix cache hits); default: a different paper per request, as a real batch would be',
    },
    'max-num-batched-tokens': {
      ...positiveInt,
      help: "the simulated vLLM's step token budget (default: the profile's 2048, vLLM's default below 70 GiB); smaller splits long batch prompts into shorter steps, which interactive first tokens wait on, at some batch throughput",
    },
    'long-prefill-token-threshold': {
      type: 'integer',
      min: 0,
      default: 0,
      help: "vLLM's cap on one request's prompt tokens per step (default 0: off); a long batch prompt then fills only part of each step's budget",
    },
    'scheduling-policy': {
      type: 'string',
      choices: ['fcfs', 'priority'],
      default: 'priority',
      value: 'P',
      help: "the worker's simulator policy, fcfs or priority",
    },
    'batch-priority': {
      type: 'integer',
      default: 1,
      help: 'GATEWAY_BATCH_PRIORITY with the priority policy (default 1; interactive is 0)',
    },
    reserve: {
      type: 'number',
      min: 0,
      max: 1,
      value: 'F',
      help: "GATEWAY_BATCH_RESERVE for the gateway (default 0.05 with the priority policy, since preemption protects interactive requests; else the gateway's, 0.25)",
    },
    'batch-concurrency': {
      type: 'custom',
      parse: (text: string): number | 'auto' | 'off' => {
        if (text === 'auto' || text === 'off') return text;
        if (!/^[1-9]\d*$/.test(text)) throw new Error(`expected auto, off or a positive integer, got "${text}"`);
        return Number(text);
      },
      default: 'auto',
      value: 'C',
      help: "GATEWAY_BATCH_CONCURRENCY for the model: the running requests batch work may bring the worker to. auto (default): the worker's best concurrency, the lowest swept concurrency reaching 95 % of the peak (measured first, the gateway starts after); a number: that; off: unset (slots bounded by the reserve and KV cache alone)",
    },
    seed: { ...positiveInt, default: 1, help: 'arrival seed' },
    day: {
      type: 'boolean',
      help: 'instead: a compressed day of interactive demand with a batch backlog under four batch policies, in virtual time (bench/batch-day.ts; --day --help lists its options)',
    },
  },
  epilogue: 'Times and rates are simulated (wall x time scale). JSON goes to artifacts/bench/batch.json.',
});

interface Options {
  requests: number;
  replicas: number;
  interactiveLane: number;
  timeScale: number;
  interactiveRate: number;
  interactiveRequests: number;
  peakConcurrency: number[];
  peakRounds: number;
  promptTokens: number;
  outputTokens: number;
  samePrompt: boolean;
  reserve: number;
  schedulingPolicy: 'fcfs' | 'priority';
  maxNumBatchedTokens: number;
  longPrefillTokenThreshold: number;
  /** GATEWAY_BATCH_PRIORITY; only with the priority policy. */
  batchPriority?: number;
  /** GATEWAY_BATCH_CONCURRENCY for the model: a number, from the peak sweep ('auto'), or unset ('off'). */
  batchConcurrency: number | 'auto' | 'off';
  seed: number;
}

/** Interactive chat: the paper's single question, shortened answer so TTFT dominates what is measured. */
const INTERACTIVE = { promptTokens: WORKLOADS['single-question'].promptTokens, outputTokens: 200 };

function parseOptions(argv: string[]): Options {
  const { values } = parseArgv(spec, argv);
  const schedulingPolicy = values['scheduling-policy'];
  return {
    requests: values.requests,
    replicas: values.replicas,
    interactiveLane: values['interactive-lane'],
    timeScale: values['time-scale'],
    interactiveRate: values['interactive-rate'],
    interactiveRequests: values['interactive-requests'],
    peakConcurrency: values['peak-concurrency'],
    peakRounds: values['peak-rounds'],
    promptTokens: values['input-tokens'],
    outputTokens: values['output-tokens'],
    samePrompt: values['same-prompt'],
    reserve: values.reserve ?? (schedulingPolicy === 'priority' ? 0.05 : 0.25),
    schedulingPolicy,
    maxNumBatchedTokens: values['max-num-batched-tokens'] ?? findProfile(PROFILE).maxBatchedTokens,
    longPrefillTokenThreshold: values['long-prefill-token-threshold'],
    batchPriority: schedulingPolicy === 'priority' ? values['batch-priority'] : undefined,
    batchConcurrency: values['batch-concurrency'],
    seed: values.seed,
  };
}

/** A chat body the simulator counts as exactly `promptTokens` prompt tokens; `tag` keeps prompts apart. */
function chatBody(model: string, tag: string, promptTokens: number, outputTokens: number): Record<string, unknown> {
  const overhead = Buffer.byteLength(renderChatPrompt([{ role: 'user', content: '' }]));
  const bytes = Math.max(8, promptTokens * 4 - overhead);
  const content = `Summarise ${tag}: `.padEnd(bytes, 'the paper text goes on ').slice(0, bytes);
  return { model, messages: [{ role: 'user', content }], max_tokens: outputTokens, ignore_eos: true };
}

/** One non-streamed request (as the batch executor sends them); output tokens and wall ms. */
function postJson(url: string, body: object, agent: http.Agent): Promise<{ ok: boolean; completionTokens: number; error?: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => {
          try {
            const parsed = JSON.parse(data) as { usage?: { completion_tokens?: number } };
            resolve({
              ok: res.statusCode === 200,
              completionTokens: parsed.usage?.completion_tokens ?? 0,
              error: res.statusCode === 200 ? undefined : data.slice(0, 200),
            });
          } catch {
            resolve({ ok: false, completionTokens: 0, error: `HTTP ${res.statusCode}: ${data.slice(0, 200)}` });
          }
        });
        res.on('error', (err) => resolve({ ok: false, completionTokens: 0, error: err.message }));
      },
    );
    req.on('error', (err) => resolve({ ok: false, completionTokens: 0, error: err.message }));
    req.end(payload);
  });
}

interface PeakRow {
  readonly concurrency: number;
  readonly requests: number;
  readonly failed: number;
  readonly simSeconds: number;
  readonly outputTokensPerSecond: number;
}

async function peakSweep(options: Options, workerUrl: string, model: string, progress: ProgressBar): Promise<PeakRow[]> {
  const rows: PeakRow[] = [];
  let serial = 0;
  for (const c of options.peakConcurrency) {
    progress.relabel(`peak c=${c}`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
    const started = performance.now();
    const results = await closedLoop(c, options.peakRounds, async () => {
      const tag = options.samePrompt ? 'the paper' : `peak paper ${serial++}`;
      const r = await postJson(`${workerUrl}/v1/chat/completions`, chatBody(model, tag, options.promptTokens, options.outputTokens), agent);
      progress.tick();
      return r;
    });
    const simSeconds = ((performance.now() - started) / 1000) * options.timeScale;
    agent.destroy();
    const tokens = results.reduce((s, r) => s + r.completionTokens, 0);
    rows.push({
      concurrency: c,
      requests: results.length,
      failed: results.filter((r) => !r.ok).length,
      simSeconds,
      outputTokensPerSecond: tokens / simSeconds,
    });
  }
  return rows;
}

/** Streaming chat through the gateway at Poisson arrivals; `stop()` true ends sending new ones. */
async function interactive(
  options: Options,
  gatewayUrl: string,
  secret: string,
  model: string,
  count: number,
  label: string,
  progress: ProgressBar | undefined,
  stop: () => boolean = () => false,
): Promise<StreamResult[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const gaps = arrivalGaps(count, options.interactiveRate, 1, options.seed);
  let at = 0;
  const offsetsMs = gaps.map((g) => {
    const offset = (at * 1000) / options.timeScale;
    at += g;
    return offset;
  });
  // Open loop that stops scheduling once `stop()` is true (lib/load's openLoop would wait out every arrival).
  const results = await stoppableOpenLoop(offsetsMs, stop, async (i) => {
    const body = {
      ...chatBody(model, `[${label} q${i}]`, INTERACTIVE.promptTokens, INTERACTIVE.outputTokens),
      stream_options: { include_usage: true },
    };
    const r = await streamRequest(`${gatewayUrl}/v1/chat/completions`, body, agent, { authorization: `Bearer ${secret}` });
    progress?.tick();
    return r;
  });
  agent.destroy();
  return results;
}

/** Sends request i at `offsetsMs[i]`; once `stop()` is true no further request is sent and it resolves when those in flight finish. */
async function stoppableOpenLoop<T>(offsetsMs: readonly number[], stop: () => boolean, send: (index: number) => Promise<T>): Promise<T[]> {
  const started = Date.now();
  const inFlight: Promise<T>[] = [];
  for (let i = 0; i < offsetsMs.length; i++) {
    for (;;) {
      if (stop()) return Promise.all(inFlight);
      const wait = offsetsMs[i] - (Date.now() - started);
      if (wait <= 0) break;
      await sleep(Math.min(wait, 50));
    }
    inFlight.push(send(i));
  }
  return Promise.all(inFlight);
}

interface BatchRun {
  readonly id: string;
  readonly status: string;
  readonly total: number;
  readonly completed: number;
  readonly failed: number;
  readonly outputTokens: number;
  readonly uploadWallSeconds: number;
  /** From create to every request finished (before output files are written), simulated seconds. */
  readonly simSeconds: number;
  readonly outputTokensPerSecond: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The gateway's event-loop delay since the last read (prom-client resets its histogram on every scrape), wall ms. */
interface LoopDelay {
  readonly p99Ms: number;
  readonly maxMs: number;
}

async function gatewayLoopDelay(gatewayUrl: string): Promise<LoopDelay | undefined> {
  try {
    const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000;
    const d = { p99Ms: read('nodejs_eventloop_lag_p99_seconds'), maxMs: read('nodejs_eventloop_lag_max_seconds') };
    return Number.isFinite(d.p99Ms) && Number.isFinite(d.maxMs) ? d : undefined;
  } catch {
    return undefined;
  }
}

/** `startSimServer` from the dist/ scripts/run.js just built, in a child process; it prints its URL once it serves. */
function startEngine(options: Options): Promise<ServerProcess> {
  const lib = path.join(repoRoot(), 'dist', 'libs', 'engine-sim', 'src', 'index.js');
  const simOptions = {
    profile: PROFILE,
    port: 0,
    timeScale: options.timeScale,
    startupSeconds: 0,
    schedulingPolicy: options.schedulingPolicy,
    maxNumBatchedTokens: options.maxNumBatchedTokens,
    longPrefillTokenThreshold: options.longPrefillTokenThreshold,
  };
  const script = `const sim = require(${JSON.stringify(lib)}); const o = ${JSON.stringify(simOptions)};
sim.startSimServer({ ...o, profile: sim.findProfile(o.profile) }).then(async (s) => { await s.ready; console.log(JSON.stringify({ event: 'ready', url: s.url })); });`;
  return startServerProcess(process.execPath, ['-e', script]);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--day')) return batchDayMain(argv.filter((a) => a !== '--day'));
  const options = parseOptions(argv);
  const profile = findProfile(PROFILE);
  const model = profile.model;
  const wallStarted = Date.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const namespace = testNamespace();
  const db = await createTestDatabase('benchbatch');
  const fileDir = path.join(os.tmpdir(), `maas-bench-batch-${namespace}`);
  const env = { NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace, DATABASE_URL: db.url, LOG_LEVEL: 'info' }; // info: startService waits for the `ready` line
  const cleanups: (() => Promise<unknown>)[] = [() => db.drop()];
  try {
    log(`starting router, key-registry, metrics-collector and ${options.replicas} a100-gpt-oss-20b worker(s)…`);
    const [router, keys, collector] = await Promise.all([
      startService('router', env),
      startService('key-registry', env),
      startService('metrics-collector', env),
    ]);
    cleanups.push(
      () => router.stop(),
      () => keys.stop(),
      () => collector.stop(),
      async () => fs.rmSync(fileDir, { recursive: true, force: true }),
    );
    // Each simulated vLLM runs as its own process, as vLLM would, with its engine flags; a worker attaches to it.
    const workerUrls: string[] = [];
    for (let i = 1; i <= options.replicas; i++) {
      const engine = await startEngine(options);
      cleanups.push(() => engine.stop());
      const worker = startNode('bin/maas.js', { ...env, LOG_LEVEL: 'info' }, [
        'worker',
        '--worker-id',
        `bench-batch-worker-${i}`,
        '--attach',
        engine.url,
        '--capacity',
        String(profile.maxNumSeqs),
        '--hardware',
        'gpu',
        '--runtime-kind',
        'sim-engine',
        '--heartbeat',
        '500ms',
      ]);
      cleanups.push(() => worker.stop());
      const registered = await worker.waitFor((r) => r.msg === 'worker registered', 60_000, 'worker registration');
      workerUrls.push(String(registered.url));
    }
    const workerUrl = workerUrls[0];
    // Workers the batch runs on: all but the interactive lane, or all of them when too few to keep one apart.
    const batchReplicas = options.replicas > options.interactiveLane ? options.replicas - options.interactiveLane : options.replicas;
    const lanes =
      batchReplicas < options.replicas
        ? `${options.interactiveLane} kept for interactive traffic, ${batchReplicas} for the batch`
        : `shared: the batch takes spare slots on all ${options.replicas}`;

    const peakTotal = options.peakConcurrency.reduce((s, c) => s + c * options.peakRounds, 0);
    const progress = new ProgressBar(peakTotal + options.interactiveRequests, 'peak');
    // 1. Peak: closed loop straight at the worker, before the gateway exists (as an operator sizes a deployment).
    const peak = await peakSweep(options, workerUrl, model, progress);
    const bestPeak = Math.max(...peak.map((p) => p.outputTokensPerSecond));
    const bestConcurrency =
      options.batchConcurrency === 'auto'
        ? Math.min(...peak.filter((p) => p.outputTokensPerSecond >= 0.95 * bestPeak).map((p) => p.concurrency))
        : options.batchConcurrency === 'off'
          ? undefined
          : options.batchConcurrency;

    const gatewayEnv: Record<string, string> = {
      ...env,
      GATEWAY_FILE_STORE_DIR: fileDir,
      GATEWAY_MAX_BODY_BYTES: String(256 * 1024 * 1024),
      GATEWAY_BATCH_SWEEP: '200ms',
    };
    gatewayEnv.GATEWAY_BATCH_RESERVE = String(options.reserve);
    gatewayEnv.GATEWAY_INTERACTIVE_LANE = String(options.interactiveLane);
    if (options.batchPriority !== undefined) gatewayEnv.GATEWAY_BATCH_PRIORITY = String(options.batchPriority);
    if (bestConcurrency !== undefined) gatewayEnv.GATEWAY_BATCH_CONCURRENCY = `${model}=${bestConcurrency}`;
    progress.relabel('starting the gateway');
    log(
      `engine --scheduling-policy ${options.schedulingPolicy} --max-num-batched-tokens ${options.maxNumBatchedTokens} --long-prefill-token-threshold ${options.longPrefillTokenThreshold}; gateway GATEWAY_BATCH_RESERVE=${options.reserve}, GATEWAY_BATCH_PRIORITY=${options.batchPriority ?? '(unset)'}, GATEWAY_BATCH_CONCURRENCY=${gatewayEnv.GATEWAY_BATCH_CONCURRENCY ?? '(unset)'}`,
    );
    const gateway = await startService('gateway', gatewayEnv);
    cleanups.push(() => gateway.stop());
    const nc = await connect({ servers: env.NATS_URL });
    cleanups.push(async () => {
      await deleteStreams(nc, namespace);
      await nc.close();
    });
    const bus = new MessageBus(nc, new Subjects(namespace));
    const { secret } = await bus.request('key-registry.create', { userEmail: 'bench@example.org', name: 'bench-batch' });
    for (let i = 0; ; i++) {
      const res = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      const body = (await res.json()) as { data?: { id: string }[] };
      if (body.data?.some((m) => m.id === model)) break;
      if (i > 200) throw new Error(`the gateway never listed ${model}`);
      await sleep(100);
    }
    // Warm-up: one short request, untimed.
    const warm = await streamRequest(`${gateway.url}/v1/chat/completions`, chatBody(model, 'warm-up', 16, 2), new http.Agent(), {
      authorization: `Bearer ${secret}`,
    });
    if (!warm.ok) throw new Error(`warm-up through the gateway failed: ${warm.error}`);

    // 2. Interactive alone.
    progress.relabel('interactive, no batch');
    await gatewayLoopDelay(gateway.url);
    const baselineResults = await interactive(options, gateway.url, secret, model, options.interactiveRequests, 'alone', progress);
    const baselineLoop = await gatewayLoopDelay(gateway.url);
    progress.finish();
    const slo = { ttftSeconds: 2, tpotSeconds: 0.1 };
    const baseline = servingMetrics(baselineResults, slo, options.timeScale / 1000);

    // 3. Batch through the SDK, with the interactive load alongside.
    const client = new OpenAI({ apiKey: secret, baseURL: `${gateway.url}/v1`, maxRetries: 0, timeout: 600_000 });
    const lines = Array.from({ length: options.requests }, (_, i) =>
      JSON.stringify({
        custom_id: `paper-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: chatBody(model, options.samePrompt ? 'the paper' : `batch paper ${i}`, options.promptTokens, options.outputTokens),
      }),
    );
    const data = Buffer.from(lines.join('\n') + '\n');
    log(`uploading the batch input: ${options.requests} requests, ${(data.length / 1e6).toFixed(1)} MB`);
    const uploadStarted = performance.now();
    const file = await client.files.create({ file: await toFile(data, 'summaries.jsonl'), purpose: 'batch' });
    const uploadWallSeconds = (performance.now() - uploadStarted) / 1000;
    const createdAt = performance.now();
    let batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { bench: 'batch' },
    });
    if (batch.status === 'failed') throw new Error(`the batch failed validation: ${JSON.stringify(batch.errors?.data?.slice(0, 3))}`);
    const batchProgress = new ProgressBar(options.requests, 'batch (interactive load alongside)');
    let allDoneAt: number | undefined;
    // Arrivals enough for twice the expected batch duration; sending stops when the batch is done.
    const expectedSim = (options.requests * options.outputTokens) / (bestPeak * batchReplicas);
    const withBatchCount = Math.max(options.interactiveRequests, Math.ceil(2 * expectedSim * options.interactiveRate));
    const interactiveDuring = interactive(
      options,
      gateway.url,
      secret,
      model,
      withBatchCount,
      'with-batch',
      undefined,
      () => allDoneAt !== undefined,
    );
    let seen = 0;
    for (;;) {
      batch = await client.batches.retrieve(batch.id);
      const done = (batch.request_counts?.completed ?? 0) + (batch.request_counts?.failed ?? 0);
      if (done > seen) {
        batchProgress.tick(done - seen);
        seen = done;
      }
      if (allDoneAt === undefined && done >= options.requests) allDoneAt = performance.now();
      if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) break;
      await sleep(200);
    }
    allDoneAt ??= performance.now();
    batchProgress.finish();
    const duringResults = await interactiveDuring;
    const duringLoop = await gatewayLoopDelay(gateway.url);
    const during = servingMetrics(duringResults, slo, options.timeScale / 1000);
    let outputTokens = 0;
    if (batch.output_file_id) {
      const text = await (await client.files.content(batch.output_file_id)).text();
      for (const l of text.split('\n')) {
        if (!l.trim()) continue;
        const row = JSON.parse(l) as { response?: { body?: { usage?: { completion_tokens?: number } } } };
        outputTokens += row.response?.body?.usage?.completion_tokens ?? 0;
      }
    }
    const simSeconds = ((allDoneAt - createdAt) / 1000) * options.timeScale;
    const batchRun: BatchRun = {
      id: batch.id,
      status: batch.status,
      total: batch.request_counts?.total ?? options.requests,
      completed: batch.request_counts?.completed ?? 0,
      failed: batch.request_counts?.failed ?? 0,
      outputTokens,
      uploadWallSeconds,
      simSeconds,
      outputTokensPerSecond: outputTokens / simSeconds,
    };

    // Report.
    const best = peak.reduce((a, b) => (b.outputTokensPerSecond > a.outputTokensPerSecond ? b : a));
    const throughputRatio = batchRun.outputTokensPerSecond / (best.outputTokensPerSecond * batchReplicas);
    const ttftRatio = during.ttft.p99 / baseline.ttft.p99;
    const throughputPass = throughputRatio >= 0.9 && batchRun.status === 'completed' && batchRun.failed === 0;
    const ttftPass = ttftRatio <= 1.2 && during.failed === 0;
    const reserve = options.reserve;
    const out: string[] = [];
    out.push(
      `## peak: closed loop straight at one worker (${options.promptTokens} in + ${options.outputTokens} out, non-streamed, ${options.samePrompt ? 'one shared prompt' : 'a different prompt per request'})`,
    );
    out.push(
      renderTable(
        ['concurrency', 'requests', 'failed', 'sim s', 'out tok/s'],
        peak.map((p) => [p.concurrency, p.requests, p.failed, p.simSeconds, p.outputTokensPerSecond]),
      ),
    );
    out.push(
      '',
      `## batch through the gateway (SDK files + batches, ${options.replicas} worker(s), GATEWAY_INTERACTIVE_LANE=${options.interactiveLane}: ${lanes}; GATEWAY_BATCH_RESERVE=${reserve}, GATEWAY_BATCH_PRIORITY=${options.batchPriority ?? 'unset'}, GATEWAY_BATCH_CONCURRENCY=${bestConcurrency === undefined ? 'unset' : `${model}=${bestConcurrency}`}, engine --scheduling-policy ${options.schedulingPolicy} --max-num-batched-tokens ${options.maxNumBatchedTokens} --long-prefill-token-threshold ${options.longPrefillTokenThreshold}, worker capacity ${profile.maxNumSeqs})`,
    );
    out.push(
      renderTable(
        ['batch', 'status', 'total', 'completed', 'failed', 'out tokens', 'sim s', 'out tok/s', 'batch workers', 'vs peak x workers'],
        [
          [
            batchRun.id,
            batchRun.status,
            batchRun.total,
            batchRun.completed,
            batchRun.failed,
            batchRun.outputTokens,
            batchRun.simSeconds,
            batchRun.outputTokensPerSecond,
            batchReplicas,
            `${(throughputRatio * 100).toFixed(1)} %`,
          ],
        ],
      ),
    );
    out.push(
      '',
      `## interactive streaming chat through the gateway (${INTERACTIVE.promptTokens} in + ${INTERACTIVE.outputTokens} out, Poisson ${options.interactiveRate} req/s)`,
    );
    const ms = (x: number) => formatNumber(x * 1000);
    const iRow = (name: string, m: ServingMetrics) => [
      name,
      m.completed,
      m.failed,
      `${ms(m.ttft.mean)} / ${ms(m.ttft.median)} / ${ms(m.ttft.p99)}`,
      `${ms(m.tpot.mean)} / ${ms(m.tpot.p99)}`,
      m.e2e.p99,
    ];
    const loop = (d: LoopDelay | undefined) => (d ? `${formatNumber(d.p99Ms)} / ${formatNumber(d.maxMs)}` : 'n/a');
    out.push(
      renderTable(
        ['phase', 'ok', 'failed', 'TTFT mean/med/p99 ms', 'TPOT mean/p99 ms', 'E2E p99 s', 'gateway loop delay p99/max (wall ms)'],
        [
          [...iRow('without batch', baseline), loop(baselineLoop)],
          [...iRow('with batch', during), loop(duringLoop)],
        ],
      ),
    );
    out.push('');
    out.push(
      `${throughputPass ? 'PASS' : 'FAIL'}  batch output throughput ${formatNumber(batchRun.outputTokensPerSecond)} tok/s = ${(throughputRatio * 100).toFixed(1)} % of peak ${formatNumber(best.outputTokensPerSecond)} tok/s (c=${best.concurrency}) x ${batchReplicas} worker(s) it ran on; target >= 90 %`,
    );
    out.push(
      `${ttftPass ? 'PASS' : 'FAIL'}  interactive TTFT p99 with batch ${ms(during.ttft.p99)} ms vs ${ms(baseline.ttft.p99)} ms without = x${ttftRatio.toFixed(2)}; target <= x1.20`,
    );
    const notes = [
      `lanes: ${lanes} (GATEWAY_INTERACTIVE_LANE=${options.interactiveLane}); a worker carrying long batch sequences lengthens every step, so an interactive first token on it waits on them`,
      `times are simulated seconds: worker clock x${options.timeScale}, client wall timings multiplied back (so 1 ms of host delay, e.g. a gateway event-loop stall, reads as ${options.timeScale} ms); batch time runs from create to the last request finished (poll every 200 ms wall = ${formatNumber(0.2 * options.timeScale)} sim s)`,
      `on each of its workers the batch runs only in spare slots: min(floor(capacity x (1 - GATEWAY_BATCH_RESERVE)), best concurrency) = ${Math.min(Math.floor(profile.maxNumSeqs * (1 - reserve)), bestConcurrency ?? Number.POSITIVE_INFINITY)} minus running requests, none while the worker queues or its KV cache is past the reserve; lowering the reserve gives the batch more slots, raising it protects interactive latency`,
      bestConcurrency === undefined
        ? 'no best concurrency: the batch fills every slot the reserve and KV cache leave, which lengthens every step'
        : `best concurrency ${bestConcurrency}: ${options.batchConcurrency === 'auto' ? 'the lowest swept concurrency whose throughput reaches 95 % of the peak' : 'given with --batch-concurrency'}; past it more sequences only lengthen the steps interactive requests wait on`,
      options.schedulingPolicy === 'priority'
        ? `priority scheduling: batch requests carry priority ${options.batchPriority}, interactive ones 0, so a waiting interactive request preempts the least urgent running batch request (recomputed later)`
        : 'fcfs scheduling: interactive requests queue behind batch work in the engine',
      `wall time ${((Date.now() - wallStarted) / 1000).toFixed(0)} s; upload of the input file ${uploadWallSeconds.toFixed(1)} s wall`,
    ];
    out.push(...notes.map((n) => `- ${n}`));
    const file2 = writeReport('batch', {
      generatedAt: new Date().toISOString(),
      argv: process.argv.slice(2),
      options,
      profile: PROFILE,
      replicas: options.replicas,
      interactiveLane: options.interactiveLane,
      batchReplicas,
      peak,
      bestConcurrency: bestConcurrency ?? null,
      batch: batchRun,
      interactive: { withoutBatch: baseline, withBatch: during },
      gatewayLoopDelay: { withoutBatch: baselineLoop ?? null, withBatch: duringLoop ?? null },
      targets: { throughputRatio, throughputPass, ttftRatio, ttftPass },
      notes,
    });
    out.push(`- results: ${path.relative(process.cwd(), file2)}`);
    process.stdout.write(`${out.join('\n')}\n`);
    return throughputPass && ttftPass ? 0 : 1;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

runMain('bench/batch', main);
