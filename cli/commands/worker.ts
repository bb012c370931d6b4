import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { Capability, ServedModel, Subjects } from '@maas/contracts';
import { loadConfig, parseDuration, platformConfigSpec } from '@maas/config';
import { findProfile, SimServer, startSimServer, validateFaults } from '@maas/engine-sim';
import { Logger } from '@maas/logging';
import { connectNats, MessageBus } from '@maas/nats';
import { RuntimeClient, WorkerAgent, WorkerRuntimeKind } from '@maas/worker-agent';
import { Command } from '../command';

const usage = `usage: maas worker (--attach URL | --sim-profile NAME) [options]

Runs a model worker: registers one runtime on NATS with its models, capabilities and capacity,
reports its load every heartbeat (from vLLM's or llama.cpp server's /metrics), and on SIGTERM
drains it (stops taking work, waits for running requests, deregisters) and exits.

runtime (one of):
  --attach URL              an OpenAI-compatible server already running (vLLM, llama.cpp, …)
  --sim-profile NAME        start the engine simulator in this process ('maas sim-engine --list-profiles')
simulator options:
  --sim-port N              port of the simulator (default 0: any free port)
  --sim-host ADDR           address it binds (default 127.0.0.1)
  --sim-model NAME          served model name (default: the profile's Hugging Face id)
  --sim-startup-delay DUR   load time before it serves, e.g. 5s; 'profile' for the profile's (default 0s)
  --sim-time-scale X        simulated seconds per wall second (default 1)
  --sim-fail-rate P         fraction of requests rejected with a 500
  --sim-abort-rate P        fraction of requests that break off mid-generation
  --sim-seed N              seed of injected failures (default 1)
  --sim-scheduling-policy P fcfs or priority (vLLM's --scheduling-policy; default fcfs)
announcement:
  --worker-id ID            default <host>-<runtime port>
  --vm-id ID                VM or node it runs on (default $MAAS_VM_ID, else the host name)
  --advertise-url URL       where gateways reach the runtime (default: the runtime's URL)
  --hardware gpu|cpu        default: the profile's, else cpu
  --capacity N              requests it serves well at once (default: the profile's batch bound, else 8)
  --model ID[=UPSTREAM]     announce this model instead of what /v1/models lists; repeatable;
                            =UPSTREAM when the runtime knows it by another name
  --capabilities LIST       chat,completion,embedding,transcription,ocr (default: chat,completion,
                            or embedding for embedding-model names; the simulator: all three)
  --runtime-kind KIND       vllm, llama.cpp, sim-engine, openai-compatible (default: detected)
  --heartbeat DUR           load report interval (default 1s)
  --register-every DUR      re-announcement interval (default 10s)
  --drain-timeout DUR       longest wait for running requests on SIGTERM (default 60s)

environment: NATS_URL (default nats://127.0.0.1:4222), MAAS_NAMESPACE (default maas), MAAS_VM_ID, LOG_LEVEL
`;

const CAPABILITIES: readonly Capability[] = ['chat', 'completion', 'embedding', 'transcription', 'ocr'];
const KINDS: readonly WorkerRuntimeKind[] = ['vllm', 'llama.cpp', 'sim-engine', 'openai-compatible', 'tesseract', 'pocketsphinx', 'whisper'];

function duration(value: string, flag: string, allowZero = false): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0 || (ms === 0 && !allowZero)) throw new Error(`--${flag}: expected a duration like 1s, 500ms or 2m, got "${value}"`);
  return ms;
}

function number(value: string | undefined, flag: string, check: (n: number) => boolean, expected: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || !check(n)) throw new Error(`--${flag}: expected ${expected}, got "${value}"`);
  return n;
}

const idSafe = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 100);

function capabilitiesOf(value: string): Capability[] {
  const list = value.split(',').map((c) => c.trim()).filter(Boolean);
  for (const c of list) if (!CAPABILITIES.includes(c as Capability)) throw new Error(`--capabilities: "${c}" is not one of ${CAPABILITIES.join(', ')}`);
  if (list.length === 0) throw new Error('--capabilities: give at least one');
  return [...new Set(list)] as Capability[];
}

export const command: Command = {
  summary: 'run a model worker: register a runtime (or the simulator) on NATS, report load, drain on SIGTERM',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        attach: { type: 'string' },
        'sim-profile': { type: 'string' },
        'sim-port': { type: 'string', default: '0' },
        'sim-host': { type: 'string', default: '127.0.0.1' },
        'sim-model': { type: 'string' },
        'sim-startup-delay': { type: 'string', default: '0s' },
        'sim-time-scale': { type: 'string', default: '1' },
        'sim-fail-rate': { type: 'string' },
        'sim-abort-rate': { type: 'string' },
        'sim-seed': { type: 'string', default: '1' },
        'sim-scheduling-policy': { type: 'string', default: 'fcfs' },
        'worker-id': { type: 'string' },
        'vm-id': { type: 'string' },
        'advertise-url': { type: 'string' },
        hardware: { type: 'string' },
        capacity: { type: 'string' },
        model: { type: 'string', multiple: true },
        capabilities: { type: 'string' },
        'runtime-kind': { type: 'string' },
        heartbeat: { type: 'string', default: '1s' },
        'register-every': { type: 'string', default: '10s' },
        'drain-timeout': { type: 'string', default: '60s' },
      },
      strict: true,
    });
    if (!values.attach === !values['sim-profile']) throw new Error('give exactly one of --attach URL or --sim-profile NAME');
    if (values.hardware !== undefined && values.hardware !== 'gpu' && values.hardware !== 'cpu') throw new Error(`--hardware: expected gpu or cpu, got "${values.hardware}"`);
    if (values['runtime-kind'] !== undefined && !KINDS.includes(values['runtime-kind'] as WorkerRuntimeKind)) {
      throw new Error(`--runtime-kind: expected one of ${KINDS.join(', ')}, got "${values['runtime-kind']}"`);
    }
    if (values.attach !== undefined && !/^https?:\/\/[^/]+/.test(values.attach)) throw new Error(`--attach: expected an http(s) URL, got "${values.attach}"`);
    const capabilities = values.capabilities ? capabilitiesOf(values.capabilities) : undefined;
    const heartbeatMs = duration(values.heartbeat!, 'heartbeat');
    const registerEveryMs = duration(values['register-every']!, 'register-every');
    const drainTimeoutMs = duration(values['drain-timeout']!, 'drain-timeout');
    const capacityFlag = number(values.capacity, 'capacity', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
    const platform = loadConfig(platformConfigSpec);
    const logger = new Logger('worker', platform.LOG_LEVEL);

    let sim: SimServer | undefined;
    let runtimeUrl = values.attach?.replace(/\/+$/, '').replace(/\/v1$/, '');
    let models: ServedModel[] | undefined;
    let hardware = values.hardware as 'gpu' | 'cpu' | undefined;
    let capacity = capacityFlag;
    let kind = values['runtime-kind'] as WorkerRuntimeKind | undefined;
    if (values['sim-profile']) {
      const profile = findProfile(values['sim-profile']);
      const schedulingPolicy = values['sim-scheduling-policy'];
      if (schedulingPolicy !== 'fcfs' && schedulingPolicy !== 'priority') throw new Error(`--sim-scheduling-policy: expected fcfs or priority, got "${schedulingPolicy}"`);
      const startup = values['sim-startup-delay'] === 'profile' ? profile.startupSeconds : duration(values['sim-startup-delay']!, 'sim-startup-delay', true) / 1000;
      sim = await startSimServer({
        profile,
        model: values['sim-model'],
        host: values['sim-host'],
        port: number(values['sim-port'], 'sim-port', (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number'),
        timeScale: number(values['sim-time-scale'], 'sim-time-scale', (n) => n > 0, 'a positive number'),
        startupSeconds: startup,
        faults: validateFaults({
          errorRate: number(values['sim-fail-rate'], 'sim-fail-rate', (n) => n >= 0 && n <= 1, 'a fraction in [0, 1]'),
          abortRate: number(values['sim-abort-rate'], 'sim-abort-rate', (n) => n >= 0 && n <= 1, 'a fraction in [0, 1]'),
        }),
        seed: number(values['sim-seed'], 'sim-seed', (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer'),
        schedulingPolicy,
      });
      runtimeUrl = sim.url;
      // The simulator's model is known before it finishes loading: announce it as starting.
      models = [{ id: sim.model, capabilities: capabilities ?? ['chat', 'completion', 'embedding'], maxContextTokens: profile.maxModelLen }];
      hardware ??= profile.runtime === 'vllm' ? 'gpu' : 'cpu';
      capacity ??= profile.maxNumSeqs;
      kind ??= 'sim-engine';
      logger.info('simulator started', { url: sim.url, profile: profile.name, model: sim.model, startupSeconds: startup });
    }
    if (values.model?.length) {
      models = values.model.map((spec) => {
        const [id, upstream] = spec.split('=');
        if (!id) throw new Error(`--model: expected ID or ID=UPSTREAM, got "${spec}"`);
        const caps = capabilities ?? models?.[0]?.capabilities ?? ['chat', 'completion'];
        return { id, capabilities: [...caps], ...(upstream && upstream !== id ? { upstreamId: upstream } : {}) };
      });
    }
    const port = new URL(runtimeUrl!).port || '80';
    const host = os.hostname();
    const workerId = values['worker-id'] ?? `${idSafe(host)}-${port}`;
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(workerId)) throw new Error(`--worker-id: letters, digits, "_" and "-" only (at most 128), got "${workerId}"`);

    const nc = await connectNats(platform.NATS_URL, `worker-${workerId}`, logger);
    const bus = new MessageBus(nc, new Subjects(platform.MAAS_NAMESPACE));
    const agent = new WorkerAgent({
      bus,
      logger,
      runtime: new RuntimeClient(runtimeUrl!),
      workerId,
      advertiseUrl: values['advertise-url']?.replace(/\/+$/, '') ?? runtimeUrl!,
      vmId: values['vm-id'] ?? process.env.MAAS_VM_ID ?? host,
      host,
      hardware: hardware ?? 'cpu',
      capacity: capacity ?? 8,
      runtimeKind: kind,
      models,
      capabilities,
      heartbeatMs,
      registerEveryMs,
      drainTimeoutMs,
    });

    let stopping: Promise<number> | undefined;
    const shutdown = (signal: string, code = 0): Promise<number> =>
      (stopping ??= (async () => {
        logger.info('stopping', { signal, workerId });
        await agent.drain(signal === 'crash' ? 'runtime crashed' : 'shutdown').catch((err: Error) => logger.error('drain failed', { error: err.message }));
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
      logger.info('worker registered', { workerId, url: r.url, models: r.models.map((m) => m.id), state: r.state, vmId: r.vmId, capacity: r.capacity, runtime: r.runtime.kind });
    }
    return signalled;
  },
};
