import { NatsConnection } from 'nats';
import { CommandName, EventName, keyVerifyRequest, MessageTypes, sessionVerifyRequest, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { SERVICE_NAMES } from '@maas/platform';
import {
  createTestDatabase,
  deleteStreams,
  factory,
  startService,
  StartedService,
  TestDatabase,
  testNamespace,
  testNats,
  testNatsUrl,
} from '@maas/testing';

/** What each service consumes, with a valid example to send after the garbage. */
const CONSUMED: { service: string; message: EventName; valid: () => MessageTypes[EventName] }[] = [
  { service: 'router', message: 'worker.registered', valid: () => factory.workerRegistered() },
  { service: 'router', message: 'worker.heartbeat', valid: () => factory.workerHeartbeat() },
  { service: 'router', message: 'worker.draining', valid: () => factory.workerDraining() },
  { service: 'router', message: 'worker.deregistered', valid: () => factory.workerDeregistered() },
  { service: 'metrics-collector', message: 'usage.request-completed', valid: () => factory.requestCompleted() },
  { service: 'metrics-collector', message: 'batch.backlog-reported', valid: () => factory.batchBacklogReported() },
  { service: 'forecaster', message: 'metric.aggregated', valid: () => factory.metricAggregated() },
  { service: 'vm-scaler', message: 'forecast.published', valid: () => factory.forecastPublished() },
  { service: 'vm-scaler', message: 'metric.aggregated', valid: () => factory.metricAggregated() },
  { service: 'gateway', message: 'worker.registered', valid: () => factory.workerRegistered() },
  { service: 'gateway', message: 'worker.heartbeat', valid: () => factory.workerHeartbeat() },
  { service: 'gateway', message: 'key.revoked', valid: () => factory.keyRevoked() },
];

/** Commands each service answers, with a valid request: a malformed one must get a service error, not silence. */
const COMMANDS: { service: string; command: CommandName; valid: MessageTypes[CommandName] }[] = [
  { service: 'router', command: 'router.list-workers', valid: {} },
  { service: 'key-registry', command: 'key-registry.verify', valid: keyVerifyRequest('sk-unknown0_no-such-key')! },
  { service: 'auth', command: 'auth.verify-session', valid: sessionVerifyRequest('no-such-session') },
  { service: 'metrics-collector', command: 'metrics-collector.key-usage', valid: { keyId: 'k', since: [new Date(0).toISOString()] } },
];

function counter(metrics: string, message: string, outcome: string): number {
  const m = new RegExp(
    `^maas_messages_received_total\\{message="${message.replace('.', '\\.')}",outcome="${outcome}"[^}]*\\} (\\d+)`,
    'm',
  ).exec(metrics);
  return m ? Number(m[1]) : 0;
}

describe('the platform: seven services on NATS', () => {
  const namespace = testNamespace();
  const services = new Map<string, StartedService>();
  let db: TestDatabase;
  let nc: NatsConnection;
  let bus: MessageBus;

  beforeAll(async () => {
    db = await createTestDatabase('platform');
    nc = await testNats();
    bus = new MessageBus(nc, new Subjects(namespace));
    const env = { DATABASE_URL: db.url, NATS_URL: testNatsUrl(), MAAS_NAMESPACE: namespace };
    const started = await Promise.all(SERVICE_NAMES.map((name) => startService(name, env)));
    started.forEach((s, i) => services.set(SERVICE_NAMES[i], s));
  });

  afterAll(async () => {
    await Promise.all([...services.values()].map((s) => s.stop()));
    if (nc) {
      await deleteStreams(nc, namespace);
      await nc.close();
    }
    await db?.drop();
  });

  it('answers $SRV.PING from all seven services with their version', async () => {
    const answers: { name: string; version: string; metadata?: Record<string, string> }[] = [];
    const replies = await nc.requestMany('$SRV.PING', new Uint8Array(), { maxWait: 1500 });
    for await (const m of replies) answers.push(JSON.parse(new TextDecoder().decode(m.data)));
    const ours = answers.filter((a) => a.metadata?.namespace === namespace);
    expect(ours.map((a) => a.name).sort()).toEqual([...SERVICE_NAMES].sort());
    for (const a of ours) expect(a.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('reports every service healthy on /health and serves /metrics', async () => {
    for (const [name, s] of services) {
      const res = await fetch(`${s.url}/health`);
      const body = (await res.json()) as { info?: { nats?: { status?: string } } };
      expect({ name, status: res.status, nats: body.info?.nats?.status }).toEqual({ name, status: 200, nats: 'up' });
      const metrics = await fetch(`${s.url}/metrics`).then((r) => r.text());
      expect(metrics).toContain('process_cpu_seconds_total');
    }
  });

  it.each(CONSUMED)(
    '$service rejects a malformed $message, keeps running, and processes the next valid one',
    async ({ service, message, valid }) => {
      const svc = services.get(service)!;
      const before = await fetch(`${svc.url}/metrics`).then((r) => r.text());
      const subject = new Subjects(namespace).subject(message);
      const rejectedLogged = svc.waitFor(
        (r) => r.msg === 'rejected malformed message' && r.subject === subject,
        10_000,
        `rejection of ${message}`,
      );
      if (message === 'usage.request-completed') {
        await nc.jetstream().publish(subject, new TextEncoder().encode('{"requestId": '));
        await bus.persist('usage.request-completed', valid() as MessageTypes['usage.request-completed'], `e2e-${Date.now()}`);
      } else {
        nc.publish(subject, new TextEncoder().encode('{"requestId": '));
        bus.publish(message, valid() as never);
      }
      await rejectedLogged;
      const deadline = Date.now() + 10_000;
      let after = before;
      while (Date.now() < deadline) {
        after = await fetch(`${svc.url}/metrics`).then((r) => r.text());
        if (counter(after, message, 'accepted') > counter(before, message, 'accepted')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(counter(after, message, 'rejected')).toBe(counter(before, message, 'rejected') + 1);
      expect(counter(after, message, 'accepted')).toBe(counter(before, message, 'accepted') + 1);
      expect((await fetch(`${svc.url}/health`)).status).toBe(200);
    },
  );

  it.each(COMMANDS)('$service answers a malformed $command with a service error, then serves a valid one', async ({ command, valid }) => {
    const subject = new Subjects(namespace).subject(command);
    const bad = await nc.request(subject, new TextEncoder().encode('{"nope": '), { timeout: 5000 });
    expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(JSON.parse(new TextDecoder().decode(bad.data)).error.code).toBe('invalid_message');
    await expect(bus.request(command, valid as never, 5000)).resolves.toBeDefined();
  });
});
