import { defineArgs, UsageError } from '@maas/cli-args';
import { EngineProfile, FaultSpec, findProfile, PROFILES, startSimServer, validateFaults, validateProfile } from '@maas/engine-sim';
import { Command, defineCommand } from '../command';
import { RUNTIME_KEY_HELP, runtimeKeyFromEnv } from '../options';

/** '2s', '500ms', '1.5m', '1h' or bare seconds → seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`--${flag}: expected a duration like 2s, 500ms or 1m, got "${text}"`);
  const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * scale;
}

const duration = (flag: string) => (text: string) => parseDuration(text, flag);
const fraction = { type: 'number', min: 0, max: 1 } as const;

const spec = defineArgs({
  command: 'maas sim-engine',
  synopsis: '--profile NAME [options]',
  description: `Runs a simulated vLLM-like engine behind an OpenAI-compatible HTTP API
(/v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings, /health, /metrics).`,
  options: {
    profile: { type: 'custom', parse: findProfile, value: 'NAME', help: 'engine profile (--list-profiles shows them); required' },
    port: { type: 'integer', min: 0, max: 65535, default: 8000, help: 'port to listen on; 0 picks a free one' },
    host: { type: 'string', value: 'ADDR', default: '127.0.0.1', help: 'address to bind' },
    model: { type: 'string', value: 'NAME', help: "served model name (default: the profile's Hugging Face id)" },
    'startup-delay': {
      type: 'custom',
      value: 'DUR',
      parse: (text: string): number | 'profile' => (text === 'profile' ? 'profile' : parseDuration(text, 'startup-delay')),
      help: "load time before serving, e.g. 2s, 500ms, 1m; 'profile' uses the profile's estimate (default 0s)",
    },
    'time-scale': { type: 'number', above: 0, default: 1, value: 'X', help: 'run the simulated clock X times faster than the wall clock' },
    'fail-rate': { ...fraction, value: 'P', help: 'fraction of requests rejected with a 500 (default 0)' },
    'abort-rate': { ...fraction, value: 'P', help: 'fraction of requests that break off mid-generation (default 0)' },
    'crash-after': { type: 'integer', min: 1, help: 'crash the engine after N finished requests; the process then exits 1' },
    'spike-every': {
      type: 'custom',
      value: 'DUR',
      parse: duration('spike-every'),
      help: 'mean time between engine stalls (with --spike-duration)',
    },
    'spike-duration': { type: 'custom', value: 'DUR', parse: duration('spike-duration'), help: 'length of each stall' },
    'max-num-seqs': { type: 'integer', min: 1, help: "override the profile's running-batch bound" },
    'kv-blocks': { type: 'integer', min: 1, help: "override the profile's KV-cache size in 16-token blocks" },
    'max-num-batched-tokens': { type: 'integer', min: 1, help: "vLLM's step token budget (default: the profile's)" },
    'long-prefill-token-threshold': {
      type: 'integer',
      min: 0,
      help: "vLLM's cap on one request's prompt tokens per step (default 0: off)",
    },
    seed: { type: 'integer', min: 0, default: 1, help: 'seed for injected failures' },
    'scheduling-policy': {
      type: 'string',
      choices: ['fcfs', 'priority'],
      default: 'fcfs',
      value: 'P',
      help: "fcfs or priority, as vLLM's flag: with priority, requests may carry 'priority' (lower is more urgent) and urgent ones preempt (default fcfs)",
    },
    'list-profiles': { type: 'boolean', help: 'print the profiles and exit' },
  },
  epilogue: `Durations are simulated time: with --time-scale 10 a 2s start-up delay passes in 0.2 s.
Prints one JSON line when listening and one when ready (both with the URL); SIGTERM or SIGINT stop it.

${RUNTIME_KEY_HELP}`,
});

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', component: 'sim-engine', ...fields })}\n`);
}

function listProfiles(): string {
  return PROFILES.map((p) => `${p.name.padEnd(20)} ${p.model.padEnd(26)} ${p.runtime.padEnd(9)} ${p.hardware}`).join('\n');
}

export const command: Command = defineCommand(
  'run a simulated vLLM-like engine (OpenAI-compatible API, vLLM metrics)',
  spec,
  async ({ values }) => {
    if (values['list-profiles']) {
      process.stdout.write(`${listProfiles()}\n`);
      return 0;
    }
    if (!values.profile)
      throw new UsageError(`--profile NAME is required; one of: ${PROFILES.map((p) => p.name).join(', ')}`, spec.command);
    const base = values.profile;
    const profile: EngineProfile = validateProfile({
      ...base,
      maxNumSeqs: values['max-num-seqs'] ?? base.maxNumSeqs,
      kvBlocks: values['kv-blocks'] ?? base.kvBlocks,
      maxBatchedTokens: values['max-num-batched-tokens'] ?? base.maxBatchedTokens,
      longPrefillTokenThreshold: values['long-prefill-token-threshold'] ?? base.longPrefillTokenThreshold,
    });
    const { port, seed } = values;
    const timeScale = values['time-scale'];
    const startupDelay = values['startup-delay'] === 'profile' ? profile.startupSeconds : (values['startup-delay'] ?? 0);
    const faults: FaultSpec = validateFaults({
      errorRate: values['fail-rate'],
      abortRate: values['abort-rate'],
      crashAfterRequests: values['crash-after'],
      spikeEverySeconds: values['spike-every'],
      spikeSeconds: values['spike-duration'],
    });
    const schedulingPolicy = values['scheduling-policy'];
    const apiKey = runtimeKeyFromEnv();

    const server = await startSimServer({
      profile,
      model: values.model,
      host: values.host,
      port,
      timeScale,
      startupSeconds: startupDelay,
      faults,
      seed,
      schedulingPolicy,
      apiKey,
    });
    const about = { url: server.url, port: server.port, profile: profile.name, model: server.model, timeScale, pid: process.pid };
    // whether a key is demanded, never the key
    log({ event: 'listening', ...about, startupSeconds: startupDelay, auth: apiKey ? 'required' : 'none' });

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
);
