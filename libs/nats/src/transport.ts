import { EventPattern, MessagePattern, NatsContext, Server, CustomTransportStrategy, MessageHandler } from '@nestjs/microservices';
import { AckPolicy, DeliverPolicy, JsMsg, Msg, NatsConnection, Service, ServiceMsg, Subscription, ConsumerMessages } from 'nats';
import { isObservable, lastValueFrom } from 'rxjs';
import { Counter, Histogram } from 'prom-client';
import {
  EventName,
  MESSAGE_KINDS,
  MessageName,
  MessageValidator,
  messageValidator,
  STREAMS,
  StreamName,
  subjectKeyOf,
  Subjects,
} from '@maas/contracts';
import { Logger } from '@maas/logging';
import { consumeTraced } from './tracing';

interface HandlerExtras {
  /** Every instance receives the event (registry replicas in gateways); default: one per service. */
  broadcast?: boolean;
  /** Consume from the JetStream stream with this durable consumer name instead of core NATS. */
  durable?: string;
}

/** Handles a message of the platform: commands reply, events are consumed. */
export function On(name: MessageName, extras: Pick<HandlerExtras, 'broadcast'> = {}): MethodDecorator {
  return MESSAGE_KINDS[name].kind === 'command' ? MessagePattern(name) : EventPattern(name, extras);
}

/** Consumes an event from its JetStream stream with a durable consumer: at-least-once, survives restarts. */
export function OnStream(name: EventName, durable: string): MethodDecorator {
  return EventPattern(name, { durable } satisfies HandlerExtras);
}

/**
 * Thrown by a stream handler when the event is fine but cannot be handled yet (its database is away):
 * the event stays in the stream and is redelivered with growing delays (0.5 s doubling to 10 s), for
 * as long as it takes. Anything else a handler throws is redelivered too, but logged as a failure.
 */
export class RedeliverLater extends Error {}

/** Delay before the next delivery of an event delivered `deliveries` times so far. */
export const redeliveryDelayMs = (deliveries: number): number => Math.min(10_000, 500 * 2 ** Math.min(5, Math.max(0, deliveries - 1)));

const received = new Counter({
  name: 'maas_messages_received_total',
  help: 'NATS messages received by handlers, by message name and outcome (accepted, rejected, failed, deferred)',
  labelNames: ['message', 'outcome'],
});
const handling = new Histogram({
  name: 'maas_message_handling_seconds',
  help: 'Time spent in message handlers',
  labelNames: ['message'],
  buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
});

export interface NatsTransportOptions {
  nc: NatsConnection;
  subjects: Subjects;
  service: string;
  version: string;
  description: string;
  logger: Logger;
  validator?: MessageValidator;
}

/**
 * Nest microservice transport over a plain `nats` connection. One wire format: the message body is
 * the JSON object defined in proto/ (no Nest envelope), so the `nats` CLI and any client speak it.
 * Commands become endpoints of a NATS service (`$SRV.PING|INFO|STATS` discovery); events are
 * queue-group subscriptions or durable JetStream consumers. Malformed messages are logged, counted
 * and rejected; they never reach a handler and never stop the service.
 */
export class NatsTransport extends Server implements CustomTransportStrategy {
  private service?: Service;
  private readonly subscriptions: Subscription[] = [];
  private readonly consumers: ConsumerMessages[] = [];
  private readonly validator: MessageValidator;

  constructor(private readonly options: NatsTransportOptions) {
    super();
    this.validator = options.validator ?? messageValidator();
  }

  on(): void {}
  unwrap<T>(): T {
    return this.options.nc as T;
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (err) {
      callback(err);
    }
  }

  private async start(): Promise<void> {
    const { nc, subjects, service, version, description } = this.options;
    this.service = await nc.services.add({
      name: service,
      version,
      description,
      queue: service,
      metadata: { namespace: subjects.namespace },
    });
    for (const [pattern, handler] of this.messageHandlers) {
      const name = pattern as MessageName;
      if (!(name in MESSAGE_KINDS)) throw new Error(`handler for unknown message "${pattern}"`);
      const subject = subjects.subject(name);
      const extras = (handler.extras ?? {}) as HandlerExtras;
      if (!handler.isEventHandler) {
        this.service.addEndpoint(name.replace(/\./g, '-'), {
          subject,
          metadata: { schema: MESSAGE_KINDS[name].schema },
          handler: (err, msg) => {
            if (err) this.options.logger.error('service endpoint error', { message: name, err });
            else void this.handleCommand(name, handler, msg, service);
          },
        });
      } else if (extras.durable) {
        await this.consumeStream(name as EventName, extras.durable, handler);
      } else {
        this.subscriptions.push(
          nc.subscribe(subject, {
            queue: extras.broadcast ? undefined : service,
            callback: (err, msg) => {
              if (err) this.options.logger.error('subscription error', { message: name, err });
              else void this.handleEvent_(name, handler, msg, extras.broadcast ? undefined : service);
            },
          }),
        );
      }
    }
  }

  /**
   * A keyed event must name in its body the id its subject ends in: NATS lets a worker's credential
   * publish under its own id only, and this is what stops it speaking for another id in the body.
   */
  private keyMismatch(name: MessageName, subject: string, payload: unknown): string | undefined {
    const field = subjectKeyOf(name);
    if (!field) return undefined;
    const key = this.options.subjects.parse(subject)?.key;
    const claimed = (payload as Record<string, unknown>)[field];
    return key === claimed ? undefined : `${field} ${JSON.stringify(claimed)} differs from the subject's id ${JSON.stringify(key ?? null)}`;
  }

  private reject(name: MessageName, subject: string, error: string): void {
    received.inc({ message: name, outcome: 'rejected' });
    this.options.logger.warn('rejected malformed message', { message: name, subject, error });
  }

  /** Runs the handler; in a consumer span, child of the sender's, when the message carries trace context. */
  private async invoke(name: MessageName, handler: MessageHandler, msg: Msg | JsMsg, data: unknown, group?: string): Promise<unknown> {
    const end = handling.startTimer({ message: name });
    try {
      const facts = {
        name,
        subject: msg.subject,
        bytes: msg.data.length,
        group,
        headers: msg.headers,
        messageId: msg.headers?.get('Nats-Msg-Id') || undefined,
      };
      return await consumeTraced(facts, async () => {
        const result = await handler(data, new NatsContext([msg.subject, msg.headers]));
        return isObservable(result) ? await lastValueFrom(result, { defaultValue: undefined }) : result;
      });
    } finally {
      end();
    }
  }

  private async handleEvent_(name: MessageName, handler: MessageHandler, msg: Msg, group: string | undefined): Promise<void> {
    const decoded = this.validator.decode(name, msg.data);
    if (!decoded.ok) return this.reject(name, msg.subject, decoded.error);
    const mismatch = this.keyMismatch(name, msg.subject, decoded.value);
    if (mismatch) return this.reject(name, msg.subject, mismatch);
    try {
      await this.invoke(name, handler, msg, decoded.value, group);
      received.inc({ message: name, outcome: 'accepted' });
    } catch (err) {
      received.inc({ message: name, outcome: 'failed' });
      this.options.logger.error('message handler failed', { message: name, err });
    }
  }

  private async handleCommand(name: MessageName, handler: MessageHandler, msg: ServiceMsg, group: string): Promise<void> {
    const decoded = this.validator.decode(name, msg.data);
    if (!decoded.ok) {
      this.reject(name, msg.subject, decoded.error);
      msg.respondError(
        400,
        `invalid ${name}: ${decoded.error}`,
        Buffer.from(JSON.stringify({ error: { message: `invalid ${name}: ${decoded.error}`, code: 'invalid_message' } })),
      );
      return;
    }
    try {
      const reply = await this.invoke(name, handler, msg, decoded.value, group);
      received.inc({ message: name, outcome: 'accepted' });
      msg.respond(Buffer.from(JSON.stringify(reply ?? {})));
    } catch (err) {
      received.inc({ message: name, outcome: 'failed' });
      this.options.logger.error('command handler failed', { message: name, err });
      const message = (err as Error).message ?? 'internal error';
      msg.respondError(500, message, Buffer.from(JSON.stringify({ error: { message, code: 'internal_error' } })));
    }
  }

  private async consumeStream(name: EventName, durable: string, handler: MessageHandler): Promise<void> {
    const { nc, subjects, logger } = this.options;
    const stream = (Object.keys(STREAMS) as StreamName[]).find((s) => (STREAMS[s].messages as MessageName[]).includes(name));
    if (!stream) throw new Error(`${name} is not persisted in a stream`);
    const streamName = subjects.stream(stream);
    const jsm = await nc.jetstreamManager();
    await jsm.consumers.add(streamName, {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjects.subject(name),
      ack_wait: 30_000_000_000,
      max_deliver: -1, // never dropped: a handler decides what cannot be handled (see RedeliverLater)
    });
    const consumer = await nc.jetstream().consumers.get(streamName, durable);
    const messages = await consumer.consume({ max_messages: 256 });
    this.consumers.push(messages);
    void (async () => {
      for await (const msg of messages) {
        const decoded = this.validator.decode(name, msg.data);
        if (!decoded.ok) {
          this.reject(name, msg.subject, decoded.error);
          msg.term(); // never redelivered: it can only fail again
          continue;
        }
        try {
          await this.invoke(name, handler, msg, decoded.value, durable);
          received.inc({ message: name, outcome: 'accepted' });
          msg.ack();
        } catch (err) {
          received.inc({ message: name, outcome: err instanceof RedeliverLater ? 'deferred' : 'failed' });
          const delayMs = redeliveryDelayMs(msg.info.redeliveryCount);
          if (err instanceof RedeliverLater)
            logger.debug('stream event deferred', { message: name, seq: msg.seq, delayMs, reason: err.message });
          else logger.error('stream handler failed; will be redelivered', { message: name, seq: msg.seq, delayMs, err });
          msg.nak(delayMs);
        }
      }
    })();
  }

  async close(): Promise<void> {
    for (const c of this.consumers) await c.close().catch(() => undefined);
    for (const s of this.subscriptions) s.unsubscribe();
    await this.service?.stop().catch(() => undefined);
  }
}
