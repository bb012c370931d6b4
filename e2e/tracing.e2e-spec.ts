import { randomBytes } from 'node:crypto';
import { startService, StartedService } from '@maas/testing';
import { chatBody, MODEL, readSse, Stack, waitUntil, Worker } from '../services/gateway/test/support/stack';
import { OtlpReceiver, ReceivedSpan, SPAN_KIND, STATUS_CODE } from './support/otlp-receiver';

const TRACE_ENV = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_BSP_SCHEDULE_DELAY'] as const;

/** The span's ancestors within its trace, nearest first. */
function ancestors(span: ReceivedSpan, trace: ReceivedSpan[]): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (let p = trace.find((s) => s.spanId === span.parentSpanId); p; p = trace.find((s) => s.spanId === p!.parentSpanId)) out.push(p);
  return out;
}

const isPostgres = (s: ReceivedSpan) =>
  s.kind === SPAN_KIND.CLIENT && (s.attributes['db.system.name'] ?? s.attributes['db.system']) === 'postgresql';
const queryText = (s: ReceivedSpan) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? '');

/**
 * Traces by OpenTelemetry's conventions, exported over OTLP/HTTP to a receiver in this test: the
 * real gateway, key-registry, router and metrics-collector (from dist/) and a simulated worker, all
 * with OTEL_EXPORTER_OTLP_ENDPOINT set.
 */
describe('tracing: one chat request is one trace from the client through NATS to the ledger', () => {
  const receiver = new OtlpReceiver();
  const saved = Object.fromEntries(TRACE_ENV.map((k) => [k, process.env[k]]));
  let stack: Stack;
  let collector: StartedService | undefined;
  let worker: Worker;
  let secret: string;

  beforeAll(async () => {
    await receiver.start();
    // Children inherit these (libs/testing spawns with process.env); spans leave every 200 ms.
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
    process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
    // Debug logs on the gateway: its `routed` line, written inside the request, must carry the trace id.
    stack = await new Stack({ LOG_LEVEL: 'debug' }).start();
    collector = await startService('metrics-collector', stack.env);
    worker = await stack.startWorker();
    secret = (await stack.createKey({ name: 'tracing' })).secret;
  });

  afterAll(async () => {
    await collector?.stop();
    await stack?.stop();
    await receiver.stop();
    for (const k of TRACE_ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('links the gateway server span, the usage event and the metrics-collector handler with its SQL, with GenAI attributes', async () => {
    for (const probe of ['/health', '/metrics']) expect((await fetch(`${stack.gateway.url}${probe}`)).status).toBe(200);

    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    const res = await stack.post(
      '/v1/chat/completions',
      secret,
      chatBody({ max_tokens: 8, temperature: 0.5, stream: true, stream_options: { include_usage: true } }),
      { traceparent: `00-${traceId}-${clientSpanId}-01` },
    );
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id')!;
    const sse = await readSse(res);
    expect(sse.done).toBe(true);
    const usage = (sse.events as { usage?: { prompt_tokens: number; completion_tokens: number } }[]).find((e) => e.usage)?.usage;
    expect(usage?.completion_tokens).toBeGreaterThan(1);

    // The whole chain has arrived once the ledger's INSERT is in.
    const trace = await waitUntil(
      () => {
        const spans = receiver.trace(traceId);
        return spans.some((s) => s.service === 'metrics-collector' && isPostgres(s) && /usage_records/i.test(queryText(s))) && spans;
      },
      30_000,
      `the metrics-collector's SQL span in trace ${traceId}`,
    );

    const server = trace.find((s) => s.service === 'gateway' && s.kind === SPAN_KIND.SERVER)!;
    expect(server).toBeDefined();
    expect(server.parentSpanId).toBe(clientSpanId);
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(server.status.code).not.toBe(STATUS_CODE.ERROR);
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': 200,
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': MODEL,
      'gen_ai.response.model': MODEL,
      'gen_ai.request.max_tokens': 8,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.usage.input_tokens': usage!.prompt_tokens,
      'gen_ai.usage.output_tokens': usage!.completion_tokens,
      'maas.worker.id': worker.workerId,
      'maas.request.id': requestId,
    });
    const ttft = server.attributes['gen_ai.server.time_to_first_token'] as number;
    expect(ttft).toBeGreaterThan(0);
    expect(server.attributes['gen_ai.server.time_per_output_token']).toBeGreaterThanOrEqual(0);
    expect(server.events.map((e) => e.name)).toContain('gen_ai.first_token');

    // gateway → (NATS, JetStream) → metrics-collector → PostgreSQL
    const created = trace.find((s) => s.name === 'create usage.request-completed')!;
    expect(created).toMatchObject({ service: 'gateway', kind: SPAN_KIND.PRODUCER, parentSpanId: server.spanId });
    expect(created.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'create',
      'messaging.message.id': requestId,
    });
    const consumed = trace.find((s) => s.name === 'process usage.request-completed')!;
    expect(consumed).toMatchObject({ service: 'metrics-collector', kind: SPAN_KIND.CONSUMER, parentSpanId: created.spanId });
    expect(consumed.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': 'metrics-collector',
      'messaging.message.id': requestId,
    });
    const insert = trace.find((s) => s.service === 'metrics-collector' && isPostgres(s) && /usage_records/i.test(queryText(s)))!;
    expect(ancestors(insert, trace).map((s) => s.spanId)).toContain(consumed.spanId);

    // The key check on the way in (request/reply), and the call to the worker (http instrumentation).
    const verify = trace.find((s) => s.name === 'request key-registry.verify')!;
    expect(verify).toMatchObject({ service: 'gateway', kind: SPAN_KIND.PRODUCER, parentSpanId: server.spanId });
    expect(trace.find((s) => s.name === 'process key-registry.verify')).toMatchObject({
      service: 'key-registry',
      kind: SPAN_KIND.CONSUMER,
      parentSpanId: verify.spanId,
    });
    const upstream = trace.find((s) => s.service === 'gateway' && s.kind === SPAN_KIND.CLIENT && s.parentSpanId === server.spanId);
    expect(upstream?.attributes['http.response.status_code']).toBe(200);

    // Log lines written while serving the request name its trace.
    const routed = await stack.gateway.waitFor((r) => r.msg === 'routed' && r.requestId === requestId, 5000, 'the routed log line');
    expect(routed).toMatchObject({ trace_id: traceId });
    expect(trace.map((s) => s.spanId)).toContain(routed.span_id);

    // The usage event itself says what the span says.
    expect((await stack.usageOf(requestId))[0]).toMatchObject({
      promptTokens: usage!.prompt_tokens,
      completionTokens: usage!.completion_tokens,
      workerId: worker.workerId,
    });

    // Probes and scrapes make no spans; everything arrived as OTLP/JSON.
    const paths = receiver.spans.map((s) => String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? ''));
    expect(paths.filter((p) => p === '/health' || p === '/metrics')).toEqual([]);
    expect(receiver.refused).toEqual([]);
  });

  it('marks a refused request as an error with its OpenAI error code', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await stack.post('/v1/chat/completions', 'sk-not-a-real-key-0000000000000000', chatBody(), {
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    });
    expect(res.status).toBe(401);
    const code = ((await res.json()) as { error: { code: string } }).error.code;
    const server = await waitUntil(
      () => receiver.trace(traceId).find((s) => s.service === 'gateway' && s.kind === SPAN_KIND.SERVER),
      10_000,
      'the 401 span',
    );
    expect(server.status).toMatchObject({ code: STATUS_CODE.ERROR, message: code });
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 401, 'error.type': code });
  });
});
