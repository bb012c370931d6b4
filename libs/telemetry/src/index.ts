import { Context, context, propagation, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

let sdk: NodeSDK | undefined;

/**
 * Starts tracing for this process. Spans are always created (trace ids show up in logs and cross
 * NATS in message headers); they are exported over OTLP/HTTP only when an endpoint is configured.
 */
export function startTelemetry(serviceName: string, otlpEndpoint?: string, extraProcessors: SpanProcessor[] = []): void {
  if (sdk) return;
  // Metrics are served by /metrics (Prometheus) and logs go to stdout: keep the SDK to traces only.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  process.env.OTEL_TRACES_EXPORTER ??= 'none';
  const processors: SpanProcessor[] = [...extraProcessors];
  if (otlpEndpoint) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/$/, '')}/v1/traces` })));
  }
  sdk = new NodeSDK({ serviceName, spanProcessors: processors, instrumentations: [] });
  sdk.start();
}

export async function stopTelemetry(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown().catch(() => undefined);
}

/** Reads and writes W3C trace context on anything header-like (NATS MsgHdrs, HTTP header records). */
export interface HeaderCarrier {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

export function injectContext(carrier: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, carrier, { set: (c, k, v) => c.set(k, v) });
}

export function extractContext(carrier: HeaderCarrier | undefined): Context {
  if (!carrier) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier, {
    get: (c, k) => c.get(k) || undefined,
    keys: () => ['traceparent', 'tracestate'],
  });
}

/** Trace context from plain HTTP request headers. */
export function contextFromHttpHeaders(headers: Record<string, string | string[] | undefined>): Context {
  return extractContext({
    get: (k) => {
      const v = headers[k.toLowerCase()];
      return Array.isArray(v) ? v[0] : v;
    },
    set: () => undefined,
  });
}

export const tracer = () => trace.getTracer('open-maas');

/** Runs `fn` inside a new span (child of `parent`), recording errors and ending the span. */
export async function inSpan<T>(
  name: string,
  options: { parent?: Context; kind?: SpanKind; attributes?: Record<string, string | number | boolean> },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind, context, trace };
export type { Context, Span };
