import type { RequestsCompleted } from '@maas/contracts';
import { context, extractContext, Span, SpanKind, SpanStatusCode, trace, tracer, tracingEnabled } from '@maas/telemetry';

type UsageRecord = RequestsCompleted['records'][number];

/**
 * Runs the storing of a batch with one consumer span per record that carries its request's trace
 * (`process usage.request-completed`, child of the span the gateway made when the request completed),
 * so each request's trace still shows its accounting; records without trace context get none. The
 * batch's one INSERT runs under the first of these spans (a span has one parent); the others cover
 * the same time.
 */
export async function traceRecords(records: readonly UsageRecord[], store: () => Promise<void>): Promise<void> {
  if (!tracingEnabled()) return store();
  const spans: Span[] = [];
  for (const r of records) {
    if (!r.traceparent) continue;
    const parent = extractContext({
      get: (k) => (k === 'traceparent' ? r.traceparent : k === 'tracestate' ? r.tracestate : undefined),
      set: () => undefined,
    });
    if (!trace.getSpan(parent)) continue;
    spans.push(
      tracer().startSpan(
        'process usage.request-completed',
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'nats',
            'messaging.operation.type': 'process',
            'messaging.consumer.group.name': 'metrics-collector',
            'messaging.message.id': r.event.requestId,
            'messaging.batch.message_count': records.length,
          },
        },
        parent,
      ),
    );
  }
  try {
    await (spans.length > 0 ? context.with(trace.setSpan(context.active(), spans[0]), store) : store());
  } catch (err) {
    for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    for (const span of spans) span.end();
  }
}
