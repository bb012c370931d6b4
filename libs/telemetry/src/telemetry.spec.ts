import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  contextFromHttpHeaders,
  extractContext,
  injectContext,
  inSpan,
  otlpTracesUrl,
  startTelemetry,
  stopTelemetry,
  trace,
  tracingEnabled,
} from '@maas/telemetry';

describe('telemetry', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => startTelemetry('test', undefined, [new SimpleSpanProcessor(exporter)]));
  afterAll(() => stopTelemetry());

  it('records spans once started', () => {
    expect(tracingEnabled()).toBe(true);
  });

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

describe('otlpTracesUrl', () => {
  it.each([
    [{}, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'http://collector:4318/v1/traces'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }, 'http://collector:4318/v1/traces'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:9999/traces' }, 'http://b:9999/traces'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }, undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, undefined],
  ])('%j → %s', (env, url) => {
    expect(otlpTracesUrl(env)).toBe(url);
  });
});
