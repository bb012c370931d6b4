import { headers as natsHeaders, Msg, NatsConnection } from 'nats';
import { InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Subjects } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { headerCarrier, MessageBus, NatsTransport, setMessageTrace } from '@maas/nats';
import { context, inSpan, SpanKind, startTelemetry, stopTelemetry, trace } from '@maas/telemetry';
import { deleteStreams, factory, testNamespace, testNats } from '@maas/testing';

/** What a handler saw of the active span. */
interface Seen {
  traceId?: string;
  spanId?: string;
}

const active = (): Seen => {
  const ctx = trace.getActiveSpan()?.spanContext();
  return { traceId: ctx?.traceId, spanId: ctx?.spanId };
};

describe('trace context on NATS messages, against a real NATS', () => {
  const exporter = new InMemorySpanExporter();
  const namespace = testNamespace();
  const subjects = new Subjects(namespace);
  let nc: NatsConnection;
  let bus: MessageBus;
  let transport: NatsTransport;
  const seen = new Map<string, Seen[]>();
  const record = (name: string) => (seen.get(name) ?? seen.set(name, []).get(name)!).push(active());

  const finished = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
  const waitFor = async <T>(check: () => T | undefined, what: string): Promise<T> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(async () => {
    startTelemetry('nats-tracing-test', undefined, [new SimpleSpanProcessor(exporter)]);
    nc = await testNats();
    bus = new MessageBus(nc, subjects);
    await bus.ensureStreams();
    transport = new NatsTransport({
      nc,
      subjects,
      service: 'tracing-test',
      version: '0.0.0',
      description: 'tracing test',
      logger: new Logger('tracing-test', 'error'),
    });
    transport.addHandler('metrics-collector.key-usage', async (msg: { keyId: string }) => {
      record('key-usage');
      return { keyId: msg.keyId, windows: [] };
    });
    transport.addHandler('worker.heartbeat', async () => record('heartbeat'), true);
    transport.addHandler('usage.request-completed', async () => record('usage'), true, { durable: 'tracing-test' });
    await new Promise<void>((resolve, reject) => transport.listen((err) => (err ? reject(err) : resolve())));
  });

  afterAll(async () => {
    await transport?.close();
    await deleteStreams(nc, namespace);
    await nc?.close();
    await stopTelemetry();
  });

  beforeEach(() => exporter.reset());

  it('sends no trace context from outside a trace, and the handler runs without a span', async () => {
    const raw: Msg[] = [];
    const sub = nc.subscribe(subjects.subject('worker.heartbeat'), { callback: (_e, m) => raw.push(m) });
    bus.publish('worker.heartbeat', factory.workerHeartbeat());
    const handled = await waitFor(() => seen.get('heartbeat')?.[0], 'the heartbeat handler');
    const sent = await waitFor(() => raw[0], 'the message');
    sub.unsubscribe();
    expect(sent.headers).toBeUndefined();
    expect(handled.traceId).toBeUndefined();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('core publish: producer span under the active one, consumer span under the producer', async () => {
    seen.delete('heartbeat');
    const work = await inSpan('work', {}, async (span) => {
      bus.publish('worker.heartbeat', factory.workerHeartbeat());
      return span.spanContext();
    });
    const handled = await waitFor(() => seen.get('heartbeat')?.[0], 'the heartbeat handler');
    const send = await waitFor(() => finished('publish worker.heartbeat')[0], 'the producer span');
    const process = await waitFor(() => finished('process worker.heartbeat')[0], 'the consumer span');
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(send)).toBe(work.spanId);
    expect(send.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'send',
      'messaging.destination.name': subjects.subject('worker.heartbeat', 'w-test'),
    });
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(process)).toBe(send.spanContext().spanId);
    expect(process.attributes).toMatchObject({ 'messaging.operation.type': 'process', 'messaging.consumer.group.name': 'tracing-test' });
    expect(handled).toEqual({ traceId: work.traceId, spanId: process.spanContext().spanId });
  });

  it('request/reply: the command handler runs in a child of the request span, which lasts until the reply', async () => {
    const work = await inSpan('work', {}, async (span) => {
      expect(await bus.request('metrics-collector.key-usage', { keyId: 'k1', since: [new Date(0).toISOString()] })).toEqual({
        keyId: 'k1',
        windows: [],
      });
      return span.spanContext();
    });
    const send = finished('request metrics-collector.key-usage')[0];
    const process = await waitFor(() => finished('process metrics-collector.key-usage')[0], 'the consumer span');
    expect(parentOf(send)).toBe(work.spanId);
    expect(parentOf(process)).toBe(send.spanContext().spanId);
    expect(seen.get('key-usage')?.[0]).toEqual({ traceId: work.traceId, spanId: process.spanContext().spanId });
    // The request span ends after its reply, so it encloses the handler's span.
    const end = (s: ReadableSpan) => s.endTime[0] * 1e9 + s.endTime[1];
    expect(end(send)).toBeGreaterThanOrEqual(end(process));
  });

  it('JetStream: the stored message carries the producer span, and the durable consumer continues it', async () => {
    const event = factory.requestCompleted({ requestId: 'req-traced' });
    const work = await inSpan('work', {}, async (span) => {
      await bus.persist('usage.request-completed', event, event.requestId);
      return span.spanContext();
    });
    const send = finished('jetstream.publish usage.request-completed')[0];
    expect(send.attributes).toMatchObject({ 'messaging.operation.name': 'jetstream.publish', 'messaging.message.id': 'req-traced' });
    const process = await waitFor(() => finished('process usage.request-completed')[0], 'the consumer span');
    expect(parentOf(process)).toBe(send.spanContext().spanId);
    expect(process.attributes).toMatchObject({ 'messaging.consumer.group.name': 'tracing-test', 'messaging.message.id': 'req-traced' });
    expect(seen.get('usage')?.[0]?.traceId).toBe(work.traceId);
  });

  it('a message sent later carries the trace captured when it was made, not the one active when it leaves', async () => {
    const made = await inSpan('request', {}, async (span) => ({
      ctx: span.spanContext(),
      carried: bus.traceLater('usage.request-completed', context.active()),
    }));
    expect(made.carried?.traceparent).toMatch(new RegExp(`^00-${made.ctx.traceId}-[0-9a-f]{16}-01$`));
    const create = finished('create usage.request-completed')[0];
    expect(create.kind).toBe(SpanKind.PRODUCER);
    expect(parentOf(create)).toBe(made.ctx.spanId);

    const h = natsHeaders();
    await inSpan('unrelated flush', {}, async () => setMessageTrace(h, made.carried));
    expect(headerCarrier(h).get('traceparent')).toBe(made.carried!.traceparent);
    expect(made.carried!.traceparent.split('-')[2]).toBe(create.spanContext().spanId);
    expect(bus.traceLater('usage.request-completed', undefined)).toBeUndefined();
  });
});
