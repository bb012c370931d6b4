import { connect, JSONCodec, NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import { findProfile, SimServer, startSimServer } from '@maas/engine-sim';
import { Logger } from '@maas/logging';
import { MessageBus } from '@maas/nats';
import { PrivateNatsServer, startPrivateNatsServer, testNamespace } from '@maas/testing';
import { RuntimeClient, WorkerAgent } from '@maas/worker-agent';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The agent across a NATS crash: a private server is SIGKILLed and restarted, and the agent
 * re-announces itself within its spread instead of at the next periodic registration.
 */
describe('worker agent across a NATS restart', () => {
  const subjects = new Subjects(testNamespace());
  let nats: PrivateNatsServer;
  let sim: SimServer;
  let observer: NatsConnection;
  let agentNc: NatsConnection;
  const registrations: number[] = [];
  const logs: Record<string, unknown>[] = [];

  beforeAll(async () => {
    [nats, sim] = await Promise.all([
      startPrivateNatsServer(),
      startSimServer({ profile: findProfile('a100-qwen2.5-3b'), port: 0, startupSeconds: 0 }),
    ]);
    const options = { servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 };
    [observer, agentNc] = await Promise.all([connect({ ...options, name: 'observer' }), connect({ ...options, name: 'agent' })]);
    observer.subscribe(subjects.subject('worker.registered'), {
      callback: (_e, m) => {
        if (JSONCodec<{ workerId: string }>().decode(m.data).workerId === 'reconnect-1') registrations.push(Date.now());
      },
    });
    await observer.flush();
  });

  afterAll(async () => {
    await Promise.all([observer?.close(), agentNc?.close()]);
    await Promise.all([nats?.stop(), sim?.close()]);
  });

  it('re-registers within the spread after NATS comes back, though the periodic registration is a minute away', async () => {
    const logger = new Logger('worker', 'info', (line) => logs.push(JSON.parse(line)));
    const agent = new WorkerAgent({
      bus: new MessageBus(agentNc, subjects),
      logger,
      runtime: new RuntimeClient(sim.url),
      workerId: 'reconnect-1',
      advertiseUrl: sim.url,
      vmId: 'vm-r',
      hardware: 'gpu',
      capacity: 4,
      heartbeatMs: 200,
      registerEveryMs: 60_000,
      reannounceSpreadMs: 1500,
    });
    try {
      await agent.start();
      for (let i = 0; i < 100 && registrations.length === 0; i++) await sleep(50);
      expect(registrations).toHaveLength(1);

      await nats.kill();
      await sleep(1000);
      await nats.restart();
      const restartedAt = Date.now();
      const deadline = restartedAt + 15_000;
      while (registrations.length < 2 && Date.now() < deadline) await sleep(50);
      expect(registrations.length).toBeGreaterThanOrEqual(2);
      // Reconnection takes a few hundred ms, then at most the spread.
      expect(registrations[1] - restartedAt).toBeLessThan(5000);
      const reannounced = logs.find((l) => l.msg === 'nats reconnected; re-announcing');
      expect(reannounced).toMatchObject({ workerId: 'reconnect-1', delayMs: expect.any(Number) });
      expect(reannounced!.delayMs as number).toBeLessThan(1500);
    } finally {
      await agent.stop();
    }
  }, 60_000);
});
