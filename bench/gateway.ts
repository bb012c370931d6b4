/**
 * What the gateway adds: the same upstream measured directly and through the gateway, interleaved
 * in alternating batches (so drift hits both alike), at several concurrencies, streamed and not,
 * after a warm-up. The real stack runs: NATS, router, key-registry, gateway, and a `maas worker`
 * attached to the upstream.
 *
 * The default upstream is a static OpenAI-compatible server in its own process that answers at
 * once (fixed completion, fixed SSE chunks): the difference is then the gateway and nothing else.
 * `--upstream sim` uses the engine simulator instead (realistic, but its own timing noise is larger
 * than the gateway's overhead). A bare node:http proxy is measured alongside as the floor: what any
 * Node proxy costs on this machine (two extra loopback hops, process wake-ups), so the gateway's own
 * share can be told from the environment's.
 *
 * Usage: node scripts/run.js bench/gateway.ts [--concurrency 1,16,64] [--requests 2000] [--upstream static|sim]
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { projectRoot } from '@maas/platform';
import { createTestDatabase, deleteStreams, startNode, startService, testNamespace, testNatsUrl } from '@maas/testing';
import { closedLoop } from './lib/load';

const HELP = `usage: node scripts/run.js bench/gateway.ts [options]
  --concurrency 1,16,64   client concurrencies (default 1,16,64)
  --requests N            measured requests per target, mode and concurrency (default 2000)
  --batch N               requests per interleaved batch (default 100)
  --warmup-seconds S      warm-up per mode, concurrency and target (default 2)
  --modes M               non-stream,stream (default both)
  --chunks N              SSE chunks per streamed answer (default 16)
  --upstream static|sim   what the worker serves (default static; see the file's header)
  --delay-ms N            the static upstream answers after N ms (default 0: saturation; e.g. 20
                          for the latency the gateway adds when the CPU is not the bottleneck)
  --out FILE              JSON report (default artifacts/bench/gateway.json)
  --no-baseline           skip the bare node:http proxy measured as the floor
  --stack-only            start the stack, print its URLs and a key, wait for Ctrl-C (profiling)
Prints latency percentiles (ms) direct and through the gateway, the gateway's added latency, and the
same for a bare node:http proxy (the floor any Node proxy pays on this machine).`;

const MODEL = 'bench/model';

interface Options {
  concurrency: number[];
  requests: number;
  batch: number;
  warmupSeconds: number;
  modes: ('non-stream' | 'stream')[];
  chunks: number;
  upstream: 'static' | 'sim';
  /** The static upstream waits this long before answering: a service time, so concurrency does not mean saturation. */
  delayMs: number;
  out: string;
  /** Start the stack, print its URLs and key, and wait for Ctrl-C (for profiling by hand). */
  stackOnly: boolean;
  /** Also measure a bare node:http proxy: the floor any Node proxy pays here. */
  baseline: boolean;
}

// ---------------------------------------------------------------------------------------------
// The static upstream (run as a child process: `node dist/bench/gateway.js --serve-static PORT CHUNKS`)

function serveStatic(chunks: number, delayMs: number): void {
  const id = 'chatcmpl-bench';
  const created = Math.floor(Date.now() / 1000);
  const completion = JSON.stringify({
    id, object: 'chat.completion', created, model: MODEL,
    choices: [{ index: 0, message: { role: 'assistant', content: 'tok '.repeat(chunks) }, finish_reason: 'length' }],
    usage: { prompt_tokens: 12, completion_tokens: chunks, total_tokens: 12 + chunks },
  });
  const chunk = (delta: object, finish: string | null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: MODEL, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const stream =
    chunk({ role: 'assistant', content: '' }, null) +
    Array.from({ length: chunks }, () => chunk({ content: 'tok ' }, null)).join('') +
    chunk({}, 'length') +
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: MODEL, choices: [], usage: { prompt_tokens: 12, completion_tokens: chunks, total_tokens: 12 + chunks } })}\n\n` +
    'data: [DONE]\n\n';
  const models = JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', created, owned_by: 'bench' }] });
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/v1/models' || req.url === '/health')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(req.url === '/health' ? '{}' : models);
      return;
    }
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => (delayMs > 0 ? setTimeout(answer, delayMs) : answer()));
    const answer = () => {
      const streamed = Buffer.concat(body).includes('"stream":true');
      if (streamed) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(stream);
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(completion) });
        res.end(completion);
      }
    };
  });
  server.keepAliveTimeout = 60_000;
  server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
  });
}

/**
 * The floor: the smallest keep-alive node:http proxy (no auth, routing, accounting), run as a child
 * process like the static upstream. What it adds is what any Node proxy costs on this machine.
 */
function serveBareProxy(upstream: string): void {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const server = http.createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const payload = Buffer.concat(body);
      const out = http.request(
        { agent, hostname: target.hostname, port: target.port, path: req.url, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': payload.length } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, { 'content-type': up.headers['content-type'] ?? 'application/json' });
          up.on('data', (c: Buffer) => res.write(c));
          up.on('end', () => res.end());
        },
      );
      out.end(payload);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Sample {
  ok: boolean;
  /** Until the first response byte (streams: the first SSE chunk). */
  firstMs: number;
  totalMs: number;
}

function request(url: string, agent: http.Agent, payload: string, headers: Record<string, string>): Promise<Sample> {
  const start = performance.now();
  return new Promise((resolve) => {
    let first = 0;
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      res.on('data', () => {
        if (!first) first = performance.now();
      });
      res.on('end', () => {
        const end = performance.now();
        resolve({ ok: res.statusCode === 200, firstMs: (first || end) - start, totalMs: end - start });
      });
      res.on('error', () => resolve({ ok: false, firstMs: 0, totalMs: performance.now() - start }));
    });
    req.on('error', () => resolve({ ok: false, firstMs: 0, totalMs: performance.now() - start }));
    req.end(payload);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

interface Stats {
  count: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  firstP50: number;
  firstP99: number;
  requestsPerSecond: number;
}

function stats(samples: Sample[], wallMs: number): Stats {
  const ok = samples.filter((s) => s.ok);
  const total = ok.map((s) => s.totalMs).sort((a, b) => a - b);
  const first = ok.map((s) => s.firstMs).sort((a, b) => a - b);
  return {
    count: samples.length,
    errors: samples.length - ok.length,
    p50: percentile(total, 50),
    p90: percentile(total, 90),
    p99: percentile(total, 99),
    mean: total.reduce((a, b) => a + b, 0) / Math.max(1, total.length),
    firstP50: percentile(first, 50),
    firstP99: percentile(first, 99),
    requestsPerSecond: (samples.length / wallMs) * 1000,
  };
}

interface Target {
  name: 'direct' | 'bare-proxy' | 'gateway';
  url: string;
  headers: Record<string, string>;
  agent: http.Agent;
}

async function measure(options: Options, targets: Target[], mode: 'non-stream' | 'stream', concurrency: number) {
  const payload = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'Say something short.' }], max_tokens: options.chunks, ...(mode === 'stream' ? { stream: true, stream_options: { include_usage: true } } : {}) });
  const run = (t: Target, n: number) => {
    const perClient = Math.max(1, Math.ceil(n / concurrency));
    return closedLoop(concurrency, perClient, () => request(`${t.url}/v1/chat/completions`, t.agent, payload, t.headers));
  };
  // Warm-up: connections, JIT, caches (key, route) on both paths.
  for (const t of targets) {
    const until = Date.now() + options.warmupSeconds * 1000;
    while (Date.now() < until) await run(t, concurrency * 20);
  }
  const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
  const wall = new Map<string, number>(targets.map((t) => [t.name, 0]));
  const rounds = Math.ceil(options.requests / options.batch);
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so no target always runs first (or right after another one).
    const order = targets.map((_t, i) => targets[(i + r) % targets.length]);
    for (const t of order) {
      const started = performance.now();
      const got = await run(t, options.batch);
      wall.set(t.name, wall.get(t.name)! + performance.now() - started);
      samples.get(t.name)!.push(...got);
    }
    process.stderr.write(`\r${mode} c=${concurrency}: round ${r + 1}/${rounds}\x1b[K`);
  }
  process.stderr.write('\n');
  const direct = stats(samples.get('direct')!, wall.get('direct')!);
  const gateway = stats(samples.get('gateway')!, wall.get('gateway')!);
  const bare = samples.has('bare-proxy') ? stats(samples.get('bare-proxy')!, wall.get('bare-proxy')!) : undefined;
  return {
    mode,
    concurrency,
    direct,
    gateway,
    bareProxy: bare,
    bareProxyAdded: bare ? { p50: bare.p50 - direct.p50, p99: bare.p99 - direct.p99, throughputRatio: bare.requestsPerSecond / direct.requestsPerSecond } : undefined,
    added: {
      p50: gateway.p50 - direct.p50,
      p90: gateway.p90 - direct.p90,
      p99: gateway.p99 - direct.p99,
      mean: gateway.mean - direct.mean,
      firstP50: gateway.firstP50 - direct.firstP50,
      throughputRatio: gateway.requestsPerSecond / direct.requestsPerSecond,
    },
  };
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');

function table(rows: Awaited<ReturnType<typeof measure>>[]): string {
  const header = ['mode', 'c', 'direct p50', 'gw p50', '+p50', 'direct p99', 'gw p99', '+p99', '+first p50', 'bare +p50', 'bare +p99', 'direct rps', 'bare rps', 'gw rps', 'errors'];
  const lines = rows.map((r) => [
    r.mode, String(r.concurrency), fmt(r.direct.p50), fmt(r.gateway.p50), fmt(r.added.p50), fmt(r.direct.p99), fmt(r.gateway.p99), fmt(r.added.p99),
    fmt(r.added.firstP50), fmt(r.bareProxyAdded?.p50 ?? NaN), fmt(r.bareProxyAdded?.p99 ?? NaN),
    r.direct.requestsPerSecond.toFixed(0), r.bareProxy ? r.bareProxy.requestsPerSecond.toFixed(0) : '-', r.gateway.requestsPerSecond.toFixed(0),
    String(r.direct.errors + r.gateway.errors + (r.bareProxy?.errors ?? 0)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}

// ---------------------------------------------------------------------------------------------

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      concurrency: { type: 'string', default: '1,16,64' },
      requests: { type: 'string', default: '2000' },
      batch: { type: 'string', default: '100' },
      'warmup-seconds': { type: 'string', default: '2' },
      modes: { type: 'string', default: 'non-stream,stream' },
      chunks: { type: 'string', default: '16' },
      upstream: { type: 'string', default: 'static' },
      'delay-ms': { type: 'string', default: '0' },
      out: { type: 'string', default: 'artifacts/bench/gateway.json' },
      'stack-only': { type: 'boolean', default: false },
      'no-baseline': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const positive = (v: string, flag: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected a positive integer, got "${v}"`);
    return n;
  };
  const modes = values.modes!.split(',').map((m) => m.trim());
  for (const m of modes) if (m !== 'stream' && m !== 'non-stream') throw new Error(`--modes: "${m}" is not stream or non-stream`);
  if (values.upstream !== 'static' && values.upstream !== 'sim') throw new Error(`--upstream: expected static or sim, got "${values.upstream}"`);
  return {
    concurrency: values.concurrency!.split(',').map((c) => positive(c.trim(), 'concurrency')),
    requests: positive(values.requests!, 'requests'),
    batch: positive(values.batch!, 'batch'),
    warmupSeconds: Number(values['warmup-seconds']),
    modes: modes as Options['modes'],
    chunks: positive(values.chunks!, 'chunks'),
    upstream: values.upstream,
    delayMs: Number(values['delay-ms']),
    out: values.out!,
    stackOnly: values['stack-only']!,
    baseline: !values['no-baseline'],
  };
}

/** Runs this file again as a helper server (static upstream, bare proxy); resolves with its URL. */
function startHelper(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const script = path.join(projectRoot(), 'dist', 'bench', 'gateway.js');
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ url: JSON.parse(d.toString().split('\n')[0]).url, child }));
    child.once('exit', (code) => reject(new Error(`${args[0]} helper exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const options = parseOptions();
  const namespace = testNamespace();
  const db = await createTestDatabase('bench');
  const env = { NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace, DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
  const cleanups: (() => Promise<unknown>)[] = [() => db.drop()];
  try {
    process.stderr.write('starting router, key-registry, gateway and a worker…\n');
    let upstreamUrl: string;
    const workerArgs: string[] = [];
    if (options.upstream === 'static') {
      const upstream = await startHelper(['--serve-static', '0', String(options.chunks), String(options.delayMs)]);
      cleanups.push(async () => upstream.child.kill());
      upstreamUrl = upstream.url;
      workerArgs.push('--attach', upstreamUrl, '--capabilities', 'chat,completion', '--capacity', '64');
    } else {
      upstreamUrl = '';
      workerArgs.push('--sim-profile', 'a100-qwen2.5-3b', '--sim-model', MODEL, '--sim-time-scale', '100');
    }
    const [router, keys] = await Promise.all([startService('router', env), startService('key-registry', env)]);
    cleanups.push(() => router.stop(), () => keys.stop());
    // BENCH_GATEWAY_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the gateway alone.
    const gateway = await startService('gateway', { ...env, ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS } : {}) });
    cleanups.push(() => gateway.stop());
    const worker = startNode('bin/maas.js', { ...env, LOG_LEVEL: 'info' }, ['worker', '--worker-id', 'bench-worker', ...workerArgs]);
    cleanups.push(() => worker.stop());
    const registered = await worker.waitFor((r) => r.msg === 'worker registered', 30_000);
    upstreamUrl ||= String(registered.url);

    const nc = await connect({ servers: env.NATS_URL });
    cleanups.push(async () => {
      await deleteStreams(nc, namespace);
      await nc.close();
    });
    const bus = new MessageBus(nc, new Subjects(namespace));
    const { secret } = await bus.request('key-registry.create', { userEmail: 'bench@example.org', name: 'bench' });
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      const body = (await res.json()) as { data?: { id: string }[] };
      if (body.data?.some((m) => m.id === MODEL)) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    if (options.stackOnly) {
      process.stdout.write(`${JSON.stringify({ gateway: gateway.url, upstream: upstreamUrl, key: secret, model: MODEL })}\n`);
      await new Promise((resolve) => process.once('SIGINT', resolve));
      return;
    }
    let bareUrl: string | undefined;
    if (options.baseline) {
      const bare = await startHelper(['--serve-bare-proxy', upstreamUrl]);
      cleanups.push(async () => bare.child.kill());
      bareUrl = bare.url;
    }
    const rows: Awaited<ReturnType<typeof measure>>[] = [];
    for (const mode of options.modes) {
      for (const c of options.concurrency) {
        const targets: Target[] = [
          { name: 'direct', url: upstreamUrl, headers: {}, agent: new http.Agent({ keepAlive: true, maxSockets: c }) },
          ...(bareUrl ? [{ name: 'bare-proxy' as const, url: bareUrl, headers: {}, agent: new http.Agent({ keepAlive: true, maxSockets: c }) }] : []),
          { name: 'gateway', url: gateway.url, headers: { authorization: `Bearer ${secret}` }, agent: new http.Agent({ keepAlive: true, maxSockets: c }) },
        ];
        rows.push(await measure(options, targets, mode, c));
        for (const t of targets) t.agent.destroy();
      }
    }
    process.stdout.write(`\nlatency in ms, ${options.requests} requests per cell, ${options.upstream} upstream${options.upstream === 'static' ? ` answering after ${options.delayMs} ms` : ''}, ${options.chunks} chunks per answer\n`);
    process.stdout.write(`${table(rows)}\n`);
    const report = { benchmark: 'gateway', at: new Date().toISOString(), options, host: { cpus: (await import('node:os')).cpus().length, node: process.version }, rows };
    const out = path.resolve(projectRoot(), options.out);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`JSON: ${path.relative(projectRoot(), out)}\n`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  }
}

if (process.argv[2] === '--serve-static') {
  serveStatic(Number(process.argv[4] ?? 16), Number(process.argv[5] ?? 0));
} else if (process.argv[2] === '--serve-bare-proxy') {
  serveBareProxy(process.argv[3]);
} else {
  main().catch((err: Error) => {
    process.stderr.write(`bench/gateway: ${err.message}\n`);
    process.exit(1);
  });
}
