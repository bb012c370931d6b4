import { headers as natsHeaders, MsgHdrs } from 'nats';
import {
  Attributes,
  Context,
  context,
  extractContext,
  injectContext,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  trace,
  tracer,
  tracingEnabled,
} from '@maas/telemetry';

/**
 * W3C trace context of one message (`traceparent`, `tracestate`), captured when the message is made
 * so that a message sent later (buffered, retried, spooled) still belongs to the work that made it.
 */
export type MessageTrace = Readonly<Record<string, string>>;

export function headerCarrier(h: MsgHdrs) {
  return { get: (k: string) => (h.has(k) ? h.get(k) : undefined), set: (k: string, v: string) => h.set(k, v) };
}

/** How a message leaves: core publish, request/reply, JetStream publish, or made now and sent later. */
export type SendOperation = 'publish' | 'request' | 'jetstream.publish' | 'create';

export interface MessageSpanFacts {
  /** The message name of proto/ (`usage.request-completed`): the low-cardinality part of the span name. */
  readonly name: string;
  readonly subject: string;
  readonly bytes?: number;
  readonly messageId?: string;
}

function messagingAttributes(facts: MessageSpanFacts, operationType: string, operationName: string): Attributes {
  return {
    'messaging.system': 'nats',
    'messaging.operation.type': operationType,
    'messaging.operation.name': operationName,
    'messaging.destination.name': facts.subject,
    ...(facts.bytes !== undefined ? { 'messaging.message.body.size': facts.bytes } : {}),
    ...(facts.messageId ? { 'messaging.message.id': facts.messageId } : {}),
  };
}

/**
 * The producer span of one message, child of `parent`; none when tracing is off or outside any
 * trace (heartbeats and timer ticks start no trace of their own: a root trace per heartbeat would
 * drown the ones operators look for). The message carries this span as its `traceparent`.
 */
export function startProducerSpan(operation: SendOperation, facts: MessageSpanFacts, parent: Context = context.active()): Span | undefined {
  if (!tracingEnabled() || !trace.getSpan(parent)) return undefined;
  const type = operation === 'create' ? 'create' : 'send';
  // Named `{messaging.operation.name} {message}`: the subject's namespace stays out of span names.
  return tracer().startSpan(
    `${operation} ${facts.name}`,
    { kind: SpanKind.PRODUCER, attributes: messagingAttributes(facts, type, operation) },
    parent,
  );
}

/** Headers carrying `span` as the message's parent; undefined without a span (no headers sent). */
export function traceHeaders(span: Span | undefined): MsgHdrs | undefined {
  if (!span) return undefined;
  const h = natsHeaders();
  injectContext(headerCarrier(h), trace.setSpan(ROOT_CONTEXT, span));
  return h;
}

/** Ends a producer span, as an error when the send failed. */
export function endProducerSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
  }
  span.end();
}

/**
 * The trace of a message made now and sent later: a producer `create` span under `parent`, ended at
 * once (OpenTelemetry's messaging conventions for buffered sends), whose context the message carries
 * whenever it goes out. None when tracing is off or `parent` holds no span.
 */
export function traceMessage(facts: MessageSpanFacts, parent: Context | undefined): MessageTrace | undefined {
  if (!parent) return undefined;
  const span = startProducerSpan('create', facts, parent);
  if (!span) return undefined;
  const carried: Record<string, string> = {};
  injectContext({ get: (k) => carried[k], set: (k, v) => (carried[k] = v) }, trace.setSpan(ROOT_CONTEXT, span));
  span.end();
  return carried;
}

/** Puts a captured message trace on outgoing headers. */
export function setMessageTrace(h: MsgHdrs, carried: MessageTrace | undefined): void {
  if (carried) for (const [k, v] of Object.entries(carried)) h.set(k, v);
}

/** Runs a message handler in a consumer span, child of the sender's span; without trace context, as is. */
export function consumeTraced<T>(
  facts: MessageSpanFacts & { readonly group?: string; readonly headers?: MsgHdrs },
  handle: () => Promise<T>,
): Promise<T> {
  if (!tracingEnabled() || !facts.headers) return handle();
  const parent = extractContext(headerCarrier(facts.headers));
  if (!trace.getSpan(parent)) return handle();
  const attributes = {
    ...messagingAttributes(facts, 'process', 'process'),
    ...(facts.group ? { 'messaging.consumer.group.name': facts.group } : {}),
  };
  const span = tracer().startSpan(`process ${facts.name}`, { kind: SpanKind.CONSUMER, attributes }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await handle();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
