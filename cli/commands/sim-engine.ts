import { parseArgs } from 'node:util';
import { EngineProfile, FaultSpec, findProfile, PROFILES, startSimServer, validateFaults, validateProfile } from '@maas/engine-sim';
import { Command } from '../command';

const usage = `usage: maas sim-engine --profile NAME [options]

Runs a simulated vLLM-like engine behind an OpenAI-compatible HTTP API
(/v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings, /health, /metrics).

options:
  --profile NAME          engine profile (--list-profiles shows them)
  --port N                port to listen on; 0 picks a free one (default 8000)
  --host ADDR             address to bind (default 127.0.0.1)
  --model NAME            served model name (default: the profile's Hugging Face id)
  --startup-delay DUR     load time before serving, e.g. 2s, 500ms, 1m; 'profile' uses the
                          profile's estimate (default 0s)
  --time-scale X          run the simulated clock X times faster than the wall clock (default 1)
  --fail-rate P           fraction of requests rejected with a 500 (default 0)
  --abort-rate P          fraction of requests that break off mid-generation (default 0)
  --crash-after N         crash the engine after N finished requests; the process then exits 1
  --spike-every DUR       mean time between engine stalls (with --spike-duration)
  --spike-duration DUR    length of each stall
  --max-num-seqs N        override the profile's running-batch bound
  --kv-blocks N           override the profile's KV-cache size in 16-token blocks
  --max-num-batched-tokens N  vLLM's step token budget (default: the profile's)
  --long-prefill-token-threshold N  vLLM's cap on one request's prompt tokens per step (default 0: off)
  --seed N                seed for injected failures (default 1)
  --scheduling-policy P   fcfs or priority, as vLLM's flag: with priority, requests may carry
                          'priority' (lower is more urgent) and urgent ones preempt (default fcfs)
  --list-profiles         print the profiles and exit

Durations are simulated time: with --time-scale 10 a 2s start-up delay passes in 0.2 s.
Prints one JSON line when listening and one when ready (both with the URL); SIGTERM or SIGINT stop it.
`;

/** '2s', '500ms', '1.5m', '1h' or bare seconds → seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`--${flag}: expected a duration like 2s, 500ms or 1m, got "${text}"`);
  const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * scale;
}

function parseNumber(text: string | undefined, flag: string, check: (n: number) => boolean, expected: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !check(n)) throw new Error(`--${flag}: expected ${expected}, got "${text}"`);
  return n;
}

const isInt = (min: number) => (n: number) => Number.isInteger(n) && n >= min;

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', component: 'sim-engine', ...fields })}\n`);
}

function listProfiles(): string {
  return PROFILES.map((p) => `${p.name.padEnd(20)} ${p.model.padEnd(26)} ${p.runtime.padEnd(9)} ${p.hardware}`).join('\n');
}

export const command: Command = {
  summary: 'run a simulated vLLM-like engine (OpenAI-compatible API, vLLM metrics)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        profile: { type: 'string' },
        port: { type: 'string', default: '8000' },
        host: { type: 'string', default: '127.0.0.1' },
        model: { type: 'string' },
        'startup-delay': { type: 'string', default: '0s' },
        'time-scale': { type: 'string', default: '1' },
        'fail-rate': { type: 'string' },
        'abort-rate': { type: 'string' },
        'crash-after': { type: 'string' },
        'spike-every': { type: 'string' },
        'spike-duration': { type: 'string' },
        'max-num-seqs': { type: 'string' },
        'kv-blocks': { type: 'string' },
        'max-num-batched-tokens': { type: 'string' },
        'long-prefill-token-threshold': { type: 'string' },
        seed: { type: 'string', default: '1' },
        'scheduling-policy': { type: 'string', default: 'fcfs' },
        'list-profiles': { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values['list-profiles']) {
      process.stdout.write(`${listProfiles()}\n`);
      return 0;
    }
    if (!values.profile) throw new Error(`--profile is required; one of: ${PROFILES.map((p) => p.name).join(', ')}`);
    const base = findProfile(values.profile);
    const profile: EngineProfile = validateProfile({
      ...base,
      maxNumSeqs: parseNumber(values['max-num-seqs'], 'max-num-seqs', isInt(1), 'a positive integer') ?? base.maxNumSeqs,
      kvBlocks: parseNumber(values['kv-blocks'], 'kv-blocks', isInt(1), 'a positive integer') ?? base.kvBlocks,
      maxBatchedTokens: parseNumber(values['max-num-batched-tokens'], 'max-num-batched-tokens', isInt(1), 'a positive integer') ?? base.maxBatchedTokens,
      longPrefillTokenThreshold: parseNumber(values['long-prefill-token-threshold'], 'long-prefill-token-threshold', isInt(0), 'an integer >= 0') ?? base.longPrefillTokenThreshold,
    });
    const port = parseNumber(values.port, 'port', (n) => isInt(0)(n) && n <= 65535, 'a port number (0 for any free port)') ?? 8000;
    const timeScale = parseNumber(values['time-scale'], 'time-scale', (n) => n > 0, 'a positive number') ?? 1;
    const startupDelay = values['startup-delay'] === 'profile' ? profile.startupSeconds : parseDuration(values['startup-delay'] ?? '0s', 'startup-delay');
    const rate = (n: number) => n >= 0 && n <= 1;
    const faults: FaultSpec = validateFaults({
      errorRate: parseNumber(values['fail-rate'], 'fail-rate', rate, 'a fraction in [0, 1]'),
      abortRate: parseNumber(values['abort-rate'], 'abort-rate', rate, 'a fraction in [0, 1]'),
      crashAfterRequests: parseNumber(values['crash-after'], 'crash-after', isInt(1), 'a positive integer'),
      spikeEverySeconds: values['spike-every'] === undefined ? undefined : parseDuration(values['spike-every'], 'spike-every'),
      spikeSeconds: values['spike-duration'] === undefined ? undefined : parseDuration(values['spike-duration'], 'spike-duration'),
    });
    const seed = parseNumber(values.seed, 'seed', isInt(0), 'a non-negative integer') ?? 1;
    const schedulingPolicy = values['scheduling-policy'];
    if (schedulingPolicy !== 'fcfs' && schedulingPolicy !== 'priority') throw new Error(`--scheduling-policy: expected fcfs or priority, got "${schedulingPolicy}"`);

    const server = await startSimServer({ profile, model: values.model, host: values.host, port, timeScale, startupSeconds: startupDelay, faults, seed, schedulingPolicy });
    const about = { url: server.url, port: server.port, profile: profile.name, model: server.model, timeScale, pid: process.pid };
    log({ event: 'listening', ...about, startupSeconds: startupDelay });

    return new Promise<number>((resolve) => {
      let stopping = false;
      const stop = (code: number, fields: Record<string, unknown>) => {
        if (stopping) return;
        stopping = true;
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        void server.close().then(() => {
          log({ event: 'stopped', ...fields });
          resolve(code);
        });
      };
      const onSignal = (signal: NodeJS.Signals) => stop(0, { signal });
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      void server.ready.then(() => {
        if (!stopping) log({ event: 'ready', ...about });
      });
      void server.crashed.then((reason) => {
        log({ event: 'crashed', level: 'error', reason });
        stop(1, { reason });
      });
    });
  },
};
