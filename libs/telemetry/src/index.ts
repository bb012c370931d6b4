import { Context, context, propagation, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

// http and pg are patched by `import '@maas/telemetry/preload'`, the first line of each service's main.ts.
export { serveOwnServerSpans } from './instrumentations';
export { otlpTracesUrl } from './otlp';
export { startTelemetry, stopTelemetry, tracingEnabled } from './sdk';

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

export { SpanKind, SpanStatusCode, ROOT_CONTEXT, context, trace };
export type { Attributes, Context, Span } from '@opentelemetry/api';
