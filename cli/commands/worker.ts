import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defineArgs, Parsed, UsageError } from '@maas/cli-args';
import { Capability, ServedModel, Subjects } from '@maas/contracts';
import { loadConfig, parseDuration, platformConfigSpec } from '@maas/config';
import { findProfile, SimServer, startSimServer, validateFaults } from '@maas/engine-sim';
import { Logger } from '@maas/logging';
import { connectNats, MessageBus } from '@maas/nats';
import {
  freePort,
  guessCapabilities,
  LAUNCH_KINDS,
  LaunchedRuntime,
  MIN_WORKER_KEY_SECRET_LENGTH,
  RuntimeClient,
  runtimeCommand,
  runtimeKeyFor,
  WorkerAgent,
  WorkerRuntimeKind,
} from '@maas/worker-agent';
import { Command, defineCommand } from '../command';

const CAPABILITIES: readonly Capability[] = ['chat', 'completion', 'embedding', 'transcription', 'ocr'];
const KINDS = [
  'vllm',
  'llama.cpp',
  'sim-engine',
  'openai-compatible',
  'tesseract',
  'pocketsphinx',
  'whisper',
] as const satisfies readonly WorkerRuntimeKind[];

/** A duration in milliseconds: 1s, 500ms, 2m. */
function duration(allowZero = false) {
  return (text: string): number => {
    const ms = parseDuration(text);
    if (ms === undefined || ms < 0 || (ms === 0 && !allowZero)) throw new Error(`expected a duration like 1s, 500ms or 2m, got "${text}"`);
    return ms;
  };
}

function capabilitiesOf(value: string): Capability[] {
  const list = value
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  for (const c of list) if (!CAPABILITIES.includes(c as Capability)) throw new Error(`"${c}" is not one of ${CAPABILITIES.join(', ')}`);
  if (list.length === 0) throw new Error('give at least one');
  return [...new Set(list)] as Capability[];
}

function httpUrl(text: string): string {
  if (!/^https?:\/\/[^/]+/.test(text)) throw new Error(`expected an http(s) URL, got "${text}"`);
  return text;
}

/** --model ID[=UPSTREAM]: the id announced, and the runtime's name for it when different. */
function modelOf(text: string): { id: string; upstream?: string } {
  const [id, upstream] = text.split('=');
  if (!id) throw new Error(`expected ID or ID=UPSTREAM, got "${text}"`);
  return upstream && upstream !== id ? { id, upstream } : { id };
}

function workerIdOf(text: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(text)) throw new Error(`letters, digits, "_" and "-" only (at most 128), got "${text}"`);
  return text;
}

const fraction = { type: 'number', min: 0, max: 1, value: 'P' } as const;

const spec = defineArgs({
  command: 'maas worker',
  synopsis: '(--attach URL | --sim-profile NAME | --launch KIND --model NAME [-- RUNTIME-ARGS]) [options]',
  description: `Runs a model worker: registers one runtime on NATS with its models, capabilities and capacity,
reports its load every heartbeat (from vLLM's or llama.cpp server's /metrics), and on SIGTERM
drains it (stops taking work, waits for running requests, deregisters) and exits.

With --launch the worker starts the runtime itself, as a child: with the port and served model name
(--model) it needs and a key it demands (--runtime-key); it registers
once the runtime answers healthy, deregisters and restarts it with backoff when it dies, and on
SIGTERM drains, then stops it. Arguments after -- go to the runtime (e.g. -- --profile a100-qwen2.5-3b
for sim-engine, -- --enable-prefix-caching for vllm).`,
  positionals: [{ name: 'RUNTIME-ARGS', optional: true, variadic: true, help: 'after --: arguments for the launched runtime' }],
  options: {
    launch: {
      type: 'string',
      choices: LAUNCH_KINDS,
      value: 'KIND',
      group: 'runtime (one of)',
      help: `start the runtime as a child: ${LAUNCH_KINDS.join(', ')}`,
    },
    weights: {
      type: 'string',
      value: 'PATH',
      group: 'launched runtime',
      help: 'model weights: a Hugging Face id or path for vllm, a GGUF file for llama-server and llama-engine (default: the --model name)',
    },
    'runtime-host': {
      type: 'string',
      value: 'ADDR',
      default: '127.0.0.1',
      group: 'launched runtime',
      help: 'address the runtime binds (0.0.0.0 on a VM that gateways reach; then give --advertise-url)',
    },
    'runtime-port': {
      type: 'integer',
      min: 0,
      max: 65535,
      default: 0,
      group: 'launched runtime',
      help: 'port of the runtime (default 0: a free one)',
    },
    'runtime-key': {
      type: 'string',
      choices: ['auto', 'random', 'none'],
      default: 'auto',
      value: 'MODE',
      group: 'launched runtime',
      help: 'the key the runtime demands. auto: derived from $MAAS_WORKER_KEY_SECRET and the worker id (gateways with the same secret send it), else random for vllm and llama-server and none for sim-engine and llama-engine; random: one only this worker knows; none',
    },
    'tensor-parallel-size': { type: 'integer', min: 1, group: 'launched runtime', help: 'vllm: GPUs the model is split over' },
    'max-model-len': { type: 'integer', min: 16, group: 'launched runtime', help: 'vllm: context length the KV cache is sized for' },
    'gpu-memory-utilization': {
      type: 'number',
      above: 0,
      max: 1,
      value: 'F',
      group: 'launched runtime',
      help: "vllm: fraction of each GPU's memory it may take",
    },
    'priority-scheduling': {
      type: 'boolean',
      group: 'launched runtime',
      help: 'vllm: --scheduling-policy priority (batch work yields to interactive)',
    },
    'runtime-start-timeout': {
      type: 'custom',
      parse: duration(),
      default: 1_800_000,
      value: 'DUR',
      group: 'launched runtime',
      help: 'longest wait for the runtime to be healthy before it is restarted (default 30m)',
    },
    'restart-backoff': {
      type: 'custom',
      parse: duration(),
      default: 1000,
      value: 'DUR',
      group: 'launched runtime',
      help: 'first restart delay after a crash; doubles up to 2m (default 1s)',
    },
    attach: {
      type: 'custom',
      parse: httpUrl,
      value: 'URL',
      group: 'runtime (one of)',
      help: 'an OpenAI-compatible server already running (vLLM, llama.cpp, …); with $MAAS_WORKER_KEY_SECRET it is sent the key derived from it',
    },
    'sim-profile': {
      type: 'custom',
      parse: findProfile,
      value: 'NAME',
      group: 'runtime (one of)',
      help: "start the engine simulator in this process ('maas sim-engine --list-profiles'); with $MAAS_WORKER_KEY_SECRET it demands the key derived from it",
    },
    'sim-port': {
      type: 'integer',
      min: 0,
      max: 65535,
      default: 0,
      group: 'simulator options',
      help: 'port of the simulator (default 0: any free port)',
    },
    'sim-host': { type: 'string', value: 'ADDR', default: '127.0.0.1', group: 'simulator options', help: 'address it binds' },
    'sim-model': {
      type: 'string',
      value: 'NAME',
      group: 'simulator options',
      help: "served model name (default: the profile's Hugging Face id)",
    },
    'sim-startup-delay': {
      type: 'custom',
      value: 'DUR',
      parse: (text: string): number | 'profile' => (text === 'profile' ? 'profile' : duration(true)(text)),
      group: 'simulator options',
      help: "load time before it serves, e.g. 5s; 'profile' for the profile's (default 0s)",
    },
    'sim-time-scale': {
      type: 'number',
      above: 0,
      default: 1,
      value: 'X',
      group: 'simulator options',
      help: 'simulated seconds per wall second',
    },
    'sim-fail-rate': { ...fraction, group: 'simulator options', help: 'fraction of requests rejected with a 500' },
    'sim-abort-rate': { ...fraction, group: 'simulator options', help: 'fraction of requests that break off mid-generation' },
    'sim-seed': { type: 'integer', min: 0, default: 1, group: 'simulator options', help: 'seed of injected failures' },
    'sim-scheduling-policy': {
      type: 'string',
      choices: ['fcfs', 'priority'],
      default: 'fcfs',
      value: 'P',
      group: 'simulator options',
      help: "fcfs or priority (vLLM's --scheduling-policy; default fcfs)",
    },
    'worker-id': { type: 'custom', parse: workerIdOf, value: 'ID', group: 'announcement', help: 'default <host>-<runtime port>' },
    'vm-id': {
      type: 'string',
      value: 'ID',
      group: 'announcement',
      help: 'VM or node it runs on (default $MAAS_VM_ID, else the host name)',
    },
    'advertise-url': {
      type: 'custom',
      parse: httpUrl,
      value: 'URL',
      group: 'announcement',
      help: "where gateways reach the runtime (default: the runtime's URL)",
    },
    hardware: { type: 'string', choices: ['gpu', 'cpu'], group: 'announcement', help: "default: the profile's, else cpu" },
    capacity: {
      type: 'integer',
      min: 1,
      group: 'announcement',
      help: "requests it serves well at once (default: the profile's batch bound, else 8)",
    },
    model: {
      type: 'custom',
      parse: modelOf,
      value: 'ID[=UPSTREAM]',
      multiple: true,
      group: 'announcement',
      help: 'announce this model instead of what /v1/models lists; repeatable; =UPSTREAM when the runtime knows it by another name',
    },
    capabilities: {
      type: 'custom',
      parse: capabilitiesOf,
      value: 'LIST',
      group: 'announcement',
      help: 'chat,completion,embedding,transcription,ocr (default: chat,completion, or embedding for embedding-model names; the simulator: all three)',
    },
    'runtime-kind': {
      type: 'string',
      choices: KINDS,
      value: 'KIND',
      group: 'announcement',
      help: `${KINDS.join(', ')} (default: detected)`,
    },
    heartbeat: {
      type: 'custom',
      parse: duration(),
      default: 1000,
      value: 'DUR',
      group: 'announcement',
      help: 'load report interval (default 1s)',
    },
    'register-every': {
      type: 'custom',
      parse: duration(),
      default: 10_000,
      value: 'DUR',
      group: 'announcement',
      help: 're-announcement interval (default 10s)',
    },
    pool: {
      type: 'string',
      choices: ['interactive', 'batch'],
      default: 'interactive',
      value: 'POOL',
      group: 'announcement',
      help: 'batch: started for a batch backlog; takes batch work and no interactive request while another worker serves the model (default interactive)',
    },
    'drain-timeout': {
      type: 'custom',
      parse: duration(),
      default: 60_000,
      value: 'DUR',
      group: 'announcement',
      help: 'longest wait for running requests on SIGTERM (default 60s)',
    },
  },
  epilogue:
    'environment: NATS_URL (default nats://127.0.0.1:4222), MAAS_NAMESPACE (default maas), MAAS_VM_ID, LOG_LEVEL, MAAS_WORKER_KEY_SECRET (--launch, --sim-profile, --attach: derive the runtime key)',
});

const idSafe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 100);

type Values = Parsed<typeof spec>['values'];

/** MAAS_WORKER_KEY_SECRET, which the key each runtime demands is derived from; undefined when unset. */
function workerKeySecret(invalid: (message: string) => UsageError): string | undefined {
  const secret = process.env.MAAS_WORKER_KEY_SECRET || undefined;
  if (secret !== undefined && secret.length < MIN_WORKER_KEY_SECRET_LENGTH)
    throw invalid(`MAAS_WORKER_KEY_SECRET: at least ${MIN_WORKER_KEY_SECRET_LENGTH} characters, got ${secret.length}`);
  return secret;
}

/** `maas` as this process was started (bin/maas.js or dist/cli/main.js), to start maas runtimes with. */
function maasCommand(): string[] {
  const script = process.argv[1];
  if (script && fs.existsSync(script)) return [process.execPath, script];
  return [process.execPath, path.resolve(__dirname, '..', 'main.js')];
}

/** Waits for SIGTERM or SIGINT (a second SIGINT exits at once); calls `stop` with the first. */
function onStopSignal(logger: Logger, workerId: string, stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  let interrupts = 0;
  const on = (signal: NodeJS.Signals) => {
    if (signal === 'SIGINT' && (interrupts += 1) > 1) {
      logger.warn('second SIGINT: exiting without waiting for the drain', { workerId });
      process.exit(130);
    }
    if (stopping) return logger.info('already draining; signal ignored', { signal, workerId });
    stopping = true;
    stop(signal);
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
}

/** --launch: the runtime as a child, supervised; the agent registers it whenever it is healthy. */
async function launch(values: Values, extra: string[], invalid: (message: string) => UsageError): Promise<number> {
  const kind = values.launch!;
  if (values.model.length !== 1) throw invalid('--launch needs exactly one --model NAME: the served model name');
  const served = values.model[0].id;
  if (values.model[0].upstream) throw invalid('--launch: --model takes the served name only (the runtime is started with it)');
  const vllmOnly = (['tensor-parallel-size', 'max-model-len', 'gpu-memory-utilization', 'priority-scheduling'] as const).filter(
    (k) => values[k] !== undefined && values[k] !== false,
  );
  if (kind !== 'vllm' && vllmOnly.length)
    throw invalid(`--${vllmOnly[0]} applies to --launch vllm only; give ${kind}'s own flags after --`);
  if ((kind === 'llama-server' || kind === 'llama-engine') && !values.weights) throw invalid(`--launch ${kind} needs --weights FILE.gguf`);
  const platform = loadConfig(platformConfigSpec);
  const logger = new Logger('worker', platform.LOG_LEVEL);
  const runtimeHost = values['runtime-host'];
  const port = values['runtime-port'] || (await freePort(runtimeHost));
  const host = os.hostname();
  const workerId = values['worker-id'] ?? `${idSafe(host)}-${port}`;
  const secret = workerKeySecret(invalid);
  const keyMode = values['runtime-key'];
  // without a secret our own runtimes serve open, as the in-process simulator does; vLLM and llama-server get a key no gateway has
  const ours = kind === 'sim-engine' || kind === 'llama-engine';
  const apiKey =
    keyMode === 'none' || (keyMode === 'auto' && !secret && ours)
      ? undefined
      : keyMode === 'auto' && secret
        ? runtimeKeyFor(secret, workerId)
        : randomBytes(24).toString('base64url');
  const command = runtimeCommand({
    kind,
    model: {
      model: values.weights ?? served,
      servedModelName: served,
      tensorParallelSize: values['tensor-parallel-size'],
      maxModelLen: values['max-model-len'],
      gpuMemoryUtilization: values['gpu-memory-utilization'],
      priorityScheduling: values['priority-scheduling'],
    },
    at: { host: runtimeHost, port, apiKey },
    maas: maasCommand(),
    extra,
  });
  // the simulator's profile, when given, says what hardware it stands for and how much it serves at once
  const profileArg = kind === 'sim-engine' ? extra[extra.indexOf('--profile') + 1] : undefined;
  const profile = profileArg && extra.includes('--profile') ? findProfile(profileArg) : undefined;
  const reachable = runtimeHost === '0.0.0.0' || runtimeHost === '::' ? '127.0.0.1' : runtimeHost;
  const runtimeUrl = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  const capabilities = values.capabilities ?? (kind === 'sim-engine' ? ['chat', 'completion', 'embedding'] : undefined);
  const maxContextTokens = values['max-model-len'] ?? profile?.maxModelLen;
  const runtime = new RuntimeClient(runtimeUrl, 1500, command.usesApiKey ? apiKey : undefined);

  const nc = await connectNats(platform.NATS_URL, `worker-${workerId}`, logger);
  const bus = new MessageBus(nc, new Subjects(platform.MAAS_NAMESPACE));
  const launched = new LaunchedRuntime({
    command,
    runtime,
    logger,
    startTimeoutMs: values['runtime-start-timeout'],
    restartBackoff: { initialMs: values['restart-backoff'], maxMs: 120_000 },
    stopTimeoutMs: 30_000,
    agent: () =>
      new WorkerAgent({
        bus,
        logger,
        runtime,
        workerId,
        advertiseUrl: values['advertise-url']?.replace(/\/+$/, '') ?? runtimeUrl,
        vmId: values['vm-id'] ?? process.env.MAAS_VM_ID ?? host,
        host,
        hardware: values.hardware ?? (kind === 'vllm' || profile?.runtime === 'vllm' ? 'gpu' : 'cpu'),
        capacity: values.capacity ?? profile?.maxNumSeqs ?? 8,
        runtimeKind: values['runtime-kind'] ?? command.kind,
        models: [
          {
            id: served,
            capabilities: capabilities ? [...capabilities] : guessCapabilities(served, ['chat', 'completion']),
            ...(maxContextTokens ? { maxContextTokens } : {}),
          },
        ],
        heartbeatMs: values.heartbeat,
        registerEveryMs: values['register-every'],
        drainTimeoutMs: values['drain-timeout'],
        pool: values.pool as 'interactive' | 'batch',
      }),
    onRegistered: (agent) => {
      const r = agent.registration();
      logger.info('worker registered', {
        workerId,
        url: r.url,
        models: r.models.map((m) => m.id),
        state: r.state,
        vmId: r.vmId,
        capacity: r.capacity,
        runtime: r.runtime.kind,
        restarts: launched.restarts,
      });
    },
  });
  // the key itself is never logged: only where it comes from
  const keyOrigin = !command.usesApiKey ? 'none' : keyMode === 'auto' && secret ? 'derived' : 'random';
  logger.info('launching the runtime', { kind, program: command.program, port, model: served, runtimeAuth: keyOrigin, workerId });
  if (reachable !== runtimeHost && !values['advertise-url'])
    logger.warn('the runtime listens on every address but is announced at 127.0.0.1: give --advertise-url for gateways on other hosts', {
      workerId,
      url: runtimeUrl,
    });
  if (keyOrigin === 'none' && keyMode === 'auto')
    logger.warn('the runtime demands no key: anyone who reaches its port can use it; set MAAS_WORKER_KEY_SECRET on workers and gateways', {
      workerId,
    });
  if (keyOrigin === 'random')
    logger.warn(
      'the runtime demands a key only this worker knows: gateways cannot call it; set MAAS_WORKER_KEY_SECRET on workers and gateways',
      { workerId },
    );
  onStopSignal(logger, workerId, (signal) => {
    logger.info('stopping', { signal, workerId });
    launched.stop('shutdown');
  });
  await launched.run();
  await nc.drain().catch(() => undefined);
  logger.info('stopped', { workerId });
  return 0;
}

export const command: Command = defineCommand(
  'run a model worker: register a runtime (or the simulator) on NATS, report load, drain on SIGTERM',
  spec,
  async ({ values, positionals }) => {
    const invalid = (message: string) => new UsageError(message, spec.command);
    if ([values.attach, values['sim-profile'], values.launch].filter((v) => v !== undefined).length !== 1)
      throw invalid('give exactly one of --attach URL, --sim-profile NAME or --launch KIND');
    if (positionals.length > 0 && !values.launch)
      throw invalid(`unexpected argument "${positionals[0]}" (runtime arguments after -- go with --launch)`);
    if (values.launch) return launch(values, positionals, invalid);
    const capabilities = values.capabilities;
    const platform = loadConfig(platformConfigSpec);
    const logger = new Logger('worker', platform.LOG_LEVEL);
    const host = os.hostname();
    const workerIdAt = (port: string | number) => values['worker-id'] ?? `${idSafe(host)}-${port}`;

    let sim: SimServer | undefined;
    let runtimeUrl = values.attach?.replace(/\/+$/, '').replace(/\/v1$/, '');
    let models: ServedModel[] | undefined;
    let hardware = values.hardware;
    let capacity = values.capacity;
    let kind: WorkerRuntimeKind | undefined = values['runtime-kind'];
    let runtimeKey: string | undefined;
    const profile = values['sim-profile'];
    if (profile) {
      const schedulingPolicy = values['sim-scheduling-policy'];
      const startup = values['sim-startup-delay'] === 'profile' ? profile.startupSeconds : (values['sim-startup-delay'] ?? 0) / 1000;
      const secret = workerKeySecret(invalid);
      // the key derives from the worker id, whose default names the port: then the port is chosen first
      const simPort = values['sim-port'] || (secret && !values['worker-id'] ? await freePort(values['sim-host']) : 0);
      runtimeKey = secret ? runtimeKeyFor(secret, workerIdAt(simPort)) : undefined;
      sim = await startSimServer({
        profile,
        model: values['sim-model'],
        host: values['sim-host'],
        port: simPort,
        timeScale: values['sim-time-scale'],
        startupSeconds: startup,
        faults: validateFaults({ errorRate: values['sim-fail-rate'], abortRate: values['sim-abort-rate'] }),
        seed: values['sim-seed'],
        schedulingPolicy,
        apiKey: runtimeKey,
      });
      runtimeUrl = sim.url;
      // The simulator's model is known before it finishes loading: announce it as starting.
      models = [
        { id: sim.model, capabilities: capabilities ?? ['chat', 'completion', 'embedding'], maxContextTokens: profile.maxModelLen },
      ];
      hardware ??= profile.runtime === 'vllm' ? 'gpu' : 'cpu';
      capacity ??= profile.maxNumSeqs;
      kind ??= 'sim-engine';
      // the key itself is never logged: only where it comes from
      logger.info('simulator started', {
        url: sim.url,
        profile: profile.name,
        model: sim.model,
        startupSeconds: startup,
        runtimeAuth: runtimeKey ? 'derived' : 'none',
      });
    }
    if (values.model.length) {
      const caps = capabilities ?? models?.[0]?.capabilities ?? ['chat', 'completion'];
      models = values.model.map(({ id, upstream }) => ({ id, capabilities: [...caps], ...(upstream ? { upstreamId: upstream } : {}) }));
    }
    const workerId = workerIdAt(new URL(runtimeUrl!).port || '80');
    if (values.attach) {
      // an attached runtime started with the key the gateway derives for this worker id (npm start's OCR and speech) lists its models only with it
      const secret = workerKeySecret(invalid);
      runtimeKey = secret ? runtimeKeyFor(secret, workerId) : undefined;
    }

    const nc = await connectNats(platform.NATS_URL, `worker-${workerId}`, logger);
    const bus = new MessageBus(nc, new Subjects(platform.MAAS_NAMESPACE));
    const agent = new WorkerAgent({
      bus,
      logger,
      runtime: new RuntimeClient(runtimeUrl!, 1500, runtimeKey),
      workerId,
      advertiseUrl: values['advertise-url']?.replace(/\/+$/, '') ?? runtimeUrl!,
      vmId: values['vm-id'] ?? process.env.MAAS_VM_ID ?? host,
      host,
      hardware: hardware ?? 'cpu',
      capacity: capacity ?? 8,
      runtimeKind: kind,
      models,
      capabilities,
      heartbeatMs: values.heartbeat,
      registerEveryMs: values['register-every'],
      drainTimeoutMs: values['drain-timeout'],
      pool: values.pool as 'interactive' | 'batch',
    });

    let stopping: Promise<number> | undefined;
    const shutdown = (signal: string, code = 0): Promise<number> =>
      (stopping ??= (async () => {
        logger.info('stopping', { signal, workerId });
        await agent
          .drain(signal === 'crash' ? 'runtime crashed' : 'shutdown')
          .catch((err: Error) => logger.error('drain failed', { error: err.message }));
        await sim?.close();
        await nc.drain().catch(() => undefined);
        logger.info('stopped', { workerId });
        return code;
      })());
    const signalled = new Promise<number>((resolve) => {
      // A repeated SIGTERM during the drain (supervisors, Slurm) must not cut running requests;
      // a second SIGINT is an operator's explicit "now".
      let interrupts = 0;
      const on = (signal: NodeJS.Signals) => {
        if (signal === 'SIGINT' && (interrupts += 1) > 1) {
          logger.warn('second SIGINT: exiting without waiting for the drain', { workerId });
          process.exit(130);
        }
        if (stopping) logger.info('already draining; signal ignored', { signal, workerId });
        void shutdown(signal).then(resolve);
      };
      process.on('SIGTERM', on);
      process.on('SIGINT', on);
      void sim?.crashed.then((reason) => {
        logger.error('simulated runtime crashed', { reason });
        void shutdown('crash', 1).then(resolve);
      });
    });
    const started = agent.start().catch((err: Error) => {
      if (!stopping) throw err;
    });
    await Promise.race([started, signalled]);
    if (!stopping) {
      const r = agent.registration();
      logger.info('worker registered', {
        workerId,
        url: r.url,
        models: r.models.map((m) => m.id),
        state: r.state,
        vmId: r.vmId,
        capacity: r.capacity,
        runtime: r.runtime.kind,
      });
    }
    return signalled;
  },
);
