import { JetStreamClient, JSONCodec, KV, NatsConnection, ObjectStore, RetentionPolicy, StreamConfig } from 'nats';
import { jetStreamConfigSpec, loadConfig } from '@maas/config';
import {
  CommandName,
  EventName,
  MESSAGE_KINDS,
  MessageName,
  MessageTypes,
  MessageValidator,
  messageValidator,
  ReplyTypes,
  StreamName,
  STREAMS,
  subjectKeyOf,
  Subjects,
} from '@maas/contracts';
import type { Context } from '@maas/telemetry';
import { endProducerSpan, MessageTrace, startProducerSpan, traceHeaders, traceMessage } from './tracing';

const json = JSONCodec<unknown>();

/** `maas-t1a2` + `key-limits` → `MAAS_T1A2_KEY_LIMITS`: a namespace's KV bucket or object store. */
export function bucketNameOf(namespace: string, bucket: string): string {
  return `${namespace}_${bucket}`.replace(/-/g, '_').toUpperCase();
}

/** Whether a stream's stored config lacks something `wanted` sets. */
function streamDiffers(stored: Partial<StreamConfig>, wanted: Partial<StreamConfig>): boolean {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return (
    !same([...(stored.subjects ?? [])].sort(), [...(wanted.subjects ?? [])].sort()) ||
    stored.max_age !== wanted.max_age ||
    stored.duplicate_window !== wanted.duplicate_window ||
    (stored.num_replicas ?? 1) !== wanted.num_replicas ||
    (wanted.retention !== undefined && stored.retention !== wanted.retention)
  );
}

/** Thrown when a request's reply is a service error or fails validation. */
export class BusRequestError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * The platform's typed view of NATS: one JSON object per message, validated before it is sent,
 * with trace context in the headers. Stream messages go through JetStream with de-duplication ids.
 */
export class MessageBus {
  private readonly js: JetStreamClient;
  /** Servers that keep a copy of each stream and bucket (MAAS_JS_REPLICAS: 3 on a cluster). */
  readonly replicas: number;

  constructor(
    readonly nc: NatsConnection,
    readonly subjects: Subjects,
    private readonly validator: MessageValidator = messageValidator(),
    options: { replicas?: number } = {},
  ) {
    this.js = nc.jetstream();
    this.replicas = options.replicas ?? loadConfig(jetStreamConfigSpec).MAAS_JS_REPLICAS;
  }

  private encode<N extends MessageName>(name: N, payload: MessageTypes[N]): Uint8Array {
    const checked = this.validator.message(name, payload);
    if (!checked.ok) throw new Error(`refusing to send invalid ${name}: ${checked.error}`);
    return json.encode(payload);
  }

  /** An event's subject; a keyed event's ends in the id its payload names. */
  eventSubject<N extends EventName>(name: N, payload: MessageTypes[N]): string {
    const field = subjectKeyOf(name);
    return this.subjects.subject(name, field ? String((payload as unknown as Record<string, unknown>)[field]) : undefined);
  }

  /** Core NATS publish (fire and forget) of an event; a keyed event's subject ends in the payload's id. */
  publish<N extends EventName>(name: N, payload: MessageTypes[N]): void {
    const data = this.encode(name, payload);
    const subject = this.eventSubject(name, payload);
    const span = startProducerSpan('publish', { name, subject, bytes: data.length });
    try {
      this.nc.publish(subject, data, { headers: traceHeaders(span) });
      endProducerSpan(span);
    } catch (err) {
      endProducerSpan(span, err);
      throw err;
    }
  }

  /**
   * Persists an event in its JetStream stream; resolves once the server stored it.
   * `dedupeId` makes retries idempotent within the stream's duplicate window.
   */
  async persist<N extends EventName>(name: N, payload: MessageTypes[N], dedupeId: string): Promise<void> {
    const data = this.encode(name, payload);
    const subject = this.eventSubject(name, payload);
    const span = startProducerSpan('jetstream.publish', { name, subject, bytes: data.length, messageId: dedupeId });
    try {
      await this.js.publish(subject, data, { headers: traceHeaders(span), msgID: dedupeId });
      endProducerSpan(span);
    } catch (err) {
      endProducerSpan(span, err);
      throw err;
    }
  }

  /** Request/reply to a command; the reply is validated against its schema. */
  async request<N extends CommandName>(name: N, payload: MessageTypes[N], timeoutMs = 2000): Promise<ReplyTypes[N]> {
    const subject = this.subjects.subject(name);
    const data = this.encode(name, payload);
    const span = startProducerSpan('request', { name, subject, bytes: data.length });
    try {
      const msg = await this.nc.request(subject, data, { timeout: timeoutMs, headers: traceHeaders(span) });
      const body = json.decode(msg.data) as Record<string, unknown>;
      if (msg.headers?.has('Nats-Service-Error')) {
        const error = (body?.error ?? {}) as { message?: string; code?: string };
        throw new BusRequestError(`${name}: ${error.message ?? msg.headers.get('Nats-Service-Error')}`, error.code ?? 'service_error');
      }
      const checked = this.validator.reply(name, body);
      if (!checked.ok) throw new BusRequestError(`${name}: invalid reply: ${checked.error}`, 'invalid_reply');
      endProducerSpan(span);
      return checked.value;
    } catch (err) {
      endProducerSpan(span, err);
      throw err;
    }
  }

  /**
   * The trace context for an event sent later than it is made (a buffer that publishes on its own
   * schedule): captured now under `parent`, to be put on the message's headers whenever it goes out
   * (`setMessageTrace`). Undefined when tracing is off or `parent` holds no span.
   */
  traceLater(name: EventName, parent: Context | undefined, messageId?: string): MessageTrace | undefined {
    return traceMessage({ name, subject: this.subjects.subject(name), messageId }, parent);
  }

  /** Creates or updates the JetStream streams of this namespace (idempotent). */
  async ensureStreams(options: { maxAgeMs?: number; duplicateWindowMs?: number } = {}): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    for (const stream of Object.keys(STREAMS) as StreamName[]) {
      const config = {
        name: this.subjects.stream(stream),
        subjects: this.subjects.streamSubjects(stream),
        max_age: (options.maxAgeMs ?? 30 * 86_400_000) * 1_000_000,
        duplicate_window: (options.duplicateWindowMs ?? 10 * 60_000) * 1_000_000,
        num_replicas: this.replicas,
        // A work queue keeps a message only until one consumer acks it.
        ...('retention' in STREAMS[stream] ? { retention: RetentionPolicy.Workqueue } : {}),
      };
      // On a cluster, services starting together create the same replicated stream at once and the
      // losers' requests time out: look again and retry; update only what differs.
      for (let attempt = 1; ; attempt++) {
        try {
          const info = await jsm.streams.info(config.name).catch((err: Error) => {
            if (/stream not found/i.test(err.message)) return undefined;
            throw err;
          });
          if (!info) await jsm.streams.add(config);
          else if (streamDiffers(info.config, config)) await jsm.streams.update(config.name, config);
          break;
        } catch (err) {
          if (attempt >= 6 || !/timeout|already in use/i.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 250 * attempt));
        }
      }
    }
  }

  /**
   * A KV bucket of this namespace (`MAAS_KEY_LIMITS` for `key-limits`), created with the configured
   * replicas if missing. `ttl`: an entry not written for this long goes; `timeout`: per operation.
   */
  keyValue(bucket: string, options: { ttl?: number; timeout?: number } = {}): Promise<KV> {
    const js = options.timeout ? this.nc.jetstream({ timeout: options.timeout }) : this.js;
    return js.views.kv(this.bucketName(bucket), { history: 1, replicas: this.replicas, ...(options.ttl ? { ttl: options.ttl } : {}) });
  }

  /** An object store of this namespace (`MAAS_BATCH_FILES` for `batch-files`), created with the configured replicas if missing. */
  objectStore(bucket: string, options: { timeout?: number } = {}): Promise<ObjectStore> {
    const js = options.timeout ? this.nc.jetstream({ timeout: options.timeout }) : this.js;
    return js.views.os(this.bucketName(bucket), { replicas: this.replicas });
  }

  /** `maas-t1a2` + `key-limits` → `MAAS_T1A2_KEY_LIMITS`: the namespace's streams' form, so one prefix covers both. */
  bucketName(bucket: string): string {
    return bucketNameOf(this.subjects.namespace, bucket);
  }

  isCommand(name: MessageName): boolean {
    return MESSAGE_KINDS[name].kind === 'command';
  }
}
