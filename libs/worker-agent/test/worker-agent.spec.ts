import { JSONCodec, NatsConnection } from 'nats';
import { MessageName, Subjects, WorkerHeartbeat, WorkerRegistered } from '@maas/contracts';
import { findProfile, SimServer, startSimServer } from '@maas/engine-sim';
import { Logger } from '@maas/logging';
import { MessageBus } from '@maas/nats';
import { testNamespace, testNats } from '@maas/testing';
import { RuntimeClient, WorkerAgent } from '@maas/worker-agent';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent against a real NATS and the engine simulator's HTTP API (vLLM-style /metrics). */
describe('worker agent', () => {
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  let nc: NatsConnection;
  let bus: MessageBus;
  const seen: { name: MessageName; at: number; msg: Record<string, unknown> }[] = [];
  const logger = new Logger('worker', 'warn', () => undefined);

  beforeAll(async () => {
    nc = await testNats();
    bus = new MessageBus(nc, subjects);
    for (const name of ['worker.registered', 'worker.heartbeat', 'worker.draining', 'worker.deregistered'] as MessageName[]) {
      nc.subscribe(subjects.subject(name), {
        callback: (_e, m) => seen.push({ name, at: Date.now(), msg: JSONCodec<Record<string, unknown>>().decode(m.data) }),
      });
    }
  });

  afterAll(async () => {
    await nc.close();
  });

  const of = (workerId: string, name: MessageName) => seen.filter((s) => s.name === name && s.msg.workerId === workerId);
  const first = async (workerId: string, name: MessageName) => {
    for (let i = 0; i < 100 && of(workerId, name).length === 0; i++) await sleep(20);
    return of(workerId, name)[0];
  };

  it('announces a runtime it attaches to: models from /v1/models, kind and load from /metrics, state as it loads', async () => {
    const sim: SimServer = await startSimServer({ profile: findProfile('a100-qwen2.5-3b'), port: 0, startupSeconds: 1 });
    const agent = new WorkerAgent({
      bus,
      logger,
      runtime: new RuntimeClient(sim.url),
      workerId: 'attach-1',
      advertiseUrl: sim.url,
      vmId: 'vm-a',
      hardware: 'gpu',
      capacity: 8,
      heartbeatMs: 200,
      registerEveryMs: 1000,
      drainTimeoutMs: 10_000,
    });
    try {
      // /v1/models answers 503 while the simulator loads: the agent waits, then registers.
      await agent.start();
      const reg = (await first('attach-1', 'worker.registered')).msg as unknown as WorkerRegistered;
      expect(reg).toMatchObject({
        url: sim.url,
        vmId: 'vm-a',
        hardware: 'gpu',
        capacity: 8,
        runtime: { kind: 'vllm' },
        state: 'ready',
        models: [{ id: 'Qwen/Qwen2.5-3B-Instruct', capabilities: ['chat', 'completion'], maxContextTokens: expect.any(Number) }],
      });
      expect(reg.pool).toBeUndefined(); // the interactive pool

      // Load from the runtime's metrics shows up in heartbeats while a request runs.
      const running = fetch(`${sim.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'Qwen/Qwen2.5-3B-Instruct', prompt: 'hi', max_tokens: 600, ignore_eos: true }),
      });
      await sleep(600);
      const beats = of('attach-1', 'worker.heartbeat').map((b) => b.msg as unknown as WorkerHeartbeat);
      expect(beats.some((b) => b.load.running === 1 && b.state === 'ready')).toBe(true);
      await running;

      // Re-registration every registerEveryMs, so a restarted router relearns the worker.
      await sleep(1200);
      expect(of('attach-1', 'worker.registered').length).toBeGreaterThanOrEqual(2);
      const gaps = of('attach-1', 'worker.heartbeat')
        .map((b, i, all) => (i ? b.at - all[i - 1].at : 200))
        .slice(1);
      expect(Math.max(...gaps)).toBeLessThan(600);
    } finally {
      await agent.stop();
      await sim.close();
    }
  });

  it('registers as starting when its models are known before the runtime serves, then as ready', async () => {
    const sim = await startSimServer({ profile: findProfile('a100-qwen2.5-3b'), port: 0, startupSeconds: 1 });
    const agent = new WorkerAgent({
      bus,
      logger,
      runtime: new RuntimeClient(sim.url),
      workerId: 'early-1',
      advertiseUrl: sim.url,
      vmId: 'vm-b',
      hardware: 'gpu',
      capacity: 8,
      models: [{ id: 'Qwen/Qwen2.5-3B-Instruct', capabilities: ['chat'] }],
      runtimeKind: 'sim-engine',
      heartbeatMs: 200,
      pool: 'batch',
    });
    try {
      await agent.start();
      // Started for a batch backlog: it says so, and gateways keep interactive traffic off it.
      expect((await first('early-1', 'worker.registered')).msg).toMatchObject({
        state: 'starting',
        runtime: { kind: 'sim-engine' },
        pool: 'batch',
      });
      await sim.ready;
      await sleep(500);
      const states = of('early-1', 'worker.registered').map((r) => r.msg.state);
      expect(states[states.length - 1]).toBe('ready');
    } finally {
      await agent.stop();
      await sim.close();
    }
  });

  it('drains: announces draining, waits for running requests to finish, then deregisters', async () => {
    const sim = await startSimServer({ profile: findProfile('a100-qwen2.5-3b'), port: 0, startupSeconds: 0 });
    const agent = new WorkerAgent({
      bus,
      logger,
      runtime: new RuntimeClient(sim.url),
      workerId: 'drain-1',
      advertiseUrl: sim.url,
      vmId: 'vm-c',
      hardware: 'gpu',
      capacity: 8,
      heartbeatMs: 200,
      drainTimeoutMs: 20_000,
    });
    try {
      await agent.start();
      let finishedAt = 0;
      const request = fetch(`${sim.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'Qwen/Qwen2.5-3B-Instruct', prompt: 'hi', max_tokens: 500, ignore_eos: true }),
      }).then(async (r) => {
        await r.text();
        finishedAt = Date.now();
        return r.status;
      });
      await sleep(200);
      const result = await agent.drain();
      expect(await request).toBe(200);
      await first('drain-1', 'worker.deregistered');
      const draining = of('drain-1', 'worker.draining');
      const gone = of('drain-1', 'worker.deregistered');
      expect(draining).toHaveLength(1);
      expect(draining[0].msg.inFlight).toBeGreaterThanOrEqual(1);
      expect(gone).toHaveLength(1);
      expect(gone[0].msg.reason).toBe('shutdown');
      expect(gone[0].at).toBeGreaterThanOrEqual(finishedAt);
      expect(result.leftRunning).toBe(0);
      // No re-registration once draining (it would mark the worker ready again at the router).
      expect(of('drain-1', 'worker.registered').every((r) => r.at < draining[0].at)).toBe(true);
    } finally {
      await sim.close();
    }
  });
});
