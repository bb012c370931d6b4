import { Inject, Injectable } from '@nestjs/common';
import { AckPolicy, Consumer, DeliverPolicy, JsMsg, NatsConnection } from 'nats';
import { BatchRequestQueued, messageValidator, Subjects } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import { NATS_CONNECTION } from '@maas/platform';

const DURABLE = 'gateway-batch-executor';
const validator = messageValidator();

/** A request taken from the work queue: ack after its result is written, nak to run it later. */
export interface QueuedRequest {
  readonly request: BatchRequestQueued;
  /** 1 on first delivery. */
  readonly deliveries: number;
  ack(): void;
  nak(delayMs: number): void;
  /** Tells JetStream the request is still being worked on (resets its ack timer). */
  working(): void;
}

/** The `<NS>_BATCH_WORK` JetStream work queue: one message per request line. */
@Injectable()
export class BatchQueueRepository {
  private consumer?: Consumer;

  constructor(
    private readonly bus: MessageBus,
    private readonly subjects: Subjects,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
  ) {}

  /** Queues the requests; the (batch, line) de-duplication id makes a repeated enqueue harmless. */
  async enqueue(requests: readonly BatchRequestQueued[]): Promise<void> {
    const window = 256;
    for (let i = 0; i < requests.length; i += window) {
      await Promise.all(requests.slice(i, i + window).map((r) => this.bus.persist('batch.request-queued', r, `${r.batchId}:${r.line}`)));
    }
  }

  private async open(ackWaitMs: number): Promise<Consumer> {
    if (this.consumer) return this.consumer;
    await this.bus.ensureStreams();
    const stream = this.subjects.stream('batch-work');
    const jsm = await this.nc.jetstreamManager();
    const config = {
      durable_name: DURABLE,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: ackWaitMs * 1_000_000,
      max_deliver: -1,
    };
    try {
      await jsm.consumers.add(stream, config);
    } catch {
      await jsm.consumers.update(stream, DURABLE, { ack_wait: config.ack_wait });
    }
    this.consumer = await this.nc.jetstream().consumers.get(stream, DURABLE);
    return this.consumer;
  }

  /** Up to `max` queued requests, waiting at most `waitMs` for the first. */
  async take(max: number, waitMs: number, ackWaitMs: number): Promise<QueuedRequest[]> {
    const consumer = await this.open(ackWaitMs);
    const out: QueuedRequest[] = [];
    const batch = await consumer.fetch({ max_messages: max, expires: Math.max(1000, waitMs) });
    for await (const m of batch) {
      const decoded = validator.decode('batch.request-queued', m.data);
      if (!decoded.ok) {
        m.term(); // can only fail again
        continue;
      }
      out.push(wrap(decoded.value, m));
    }
    return out;
  }
}

function wrap(request: BatchRequestQueued, m: JsMsg): QueuedRequest {
  return {
    request,
    deliveries: m.info.deliveryCount,
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    working: () => m.working(),
  };
}
