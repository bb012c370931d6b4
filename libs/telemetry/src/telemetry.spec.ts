import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { contextFromHttpHeaders, extractContext, injectContext, inSpan, startTelemetry, stopTelemetry, trace } from '@maas/telemetry';

describe('telemetry', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => startTelemetry('test', undefined, [new SimpleSpanProcessor(exporter)]));
  afterAll(() => stopTelemetry());

  it('carries one trace from HTTP headers through message headers into a child span', async () => {
    const incoming = contextFromHttpHeaders({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    const headers = new Map<string, string>();
    await inSpan('http request', { parent: incoming }, async () => {
      injectContext({ get: (k) => headers.get(k), set: (k, v) => headers.set(k, v) });
    });
    expect(headers.get('traceparent')).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-/);

    const received = extractContext({ get: (k) => headers.get(k), set: () => undefined });
    const traceId = await inSpan('handle message', { parent: received }, async () => trace.getActiveSpan()?.spanContext().traceId);
    expect(traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['http request', 'handle message']);
  });
});
