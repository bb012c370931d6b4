import { Injectable } from '@nestjs/common';
import type { ScalingAction, ScalingDecided } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { MessageBus } from '@maas/nats';
import { BusLink } from '@maas/platform';
import type { CapacityEvent } from '@maas/scaling';
import { EventOutboxRepository, OutboxEvent } from './event-outbox.repository';

const BATCH = 100;

/** The de-duplication id of a decision's event, also its outbox key (written with the decision row). */
export const decidedEvent = (d: ScalingDecided): OutboxEvent<'scaling.decided'> => ({
  messageId: d.decisionId,
  name: 'scaling.decided',
  payload: d,
});

/**
 * Decisions, actions and node state changes on the JetStream SCALING stream (replayable), through
 * the `event_outbox` table: each event is stored in PostgreSQL first, published with its id as the
 * de-duplication id, and marked once JetStream acknowledged it. What an outage kept from the
 * stream is published again, in order, when NATS is back, so the stream and the table agree.
 */
@Injectable()
export class ScalingEventsRepository {
  private running?: Promise<void>;
  private requested = false;
  private backlogSince?: number;

  constructor(
    private readonly bus: MessageBus,
    private readonly outbox: EventOutboxRepository,
    private readonly link: BusLink,
    private readonly logger: Logger,
  ) {}

  /** The decision's outbox row was written with the decision (ScalingDecisionRepository.insert): publish it. */
  async decided(_d: ScalingDecided): Promise<void> {
    this.publishSoon();
  }

  async action(a: ScalingAction): Promise<void> {
    const name =
      a.phase === 'started' ? 'scaling.action-started' : a.phase === 'completed' ? 'scaling.action-completed' : 'scaling.action-failed';
    await this.outbox.add([{ messageId: `${a.actionId}/${a.phase}`, name, payload: a }]);
    this.publishSoon();
  }

  async vmChanged(e: CapacityEvent): Promise<void> {
    const at = new Date(e.at * 1000).toISOString();
    await this.outbox.add([
      {
        messageId: `${e.vmId}/${e.from}/${e.to}/${at}`,
        name: 'vm.state-changed',
        payload: { vmId: e.vmId, provider: e.provider, vmType: e.vmType, model: e.model, from: e.from, to: e.to, reason: e.reason, at },
      },
    ]);
    this.publishSoon();
  }

  /**
   * Stored is safe: publishing goes on in the background, so a JetStream publish waiting out its
   * timeout when NATS has just died never holds the scaling loop.
   */
  private publishSoon(): void {
    void this.flush();
  }

  /** Publishes every unacknowledged outbox event, oldest first; one run at a time, re-run when asked during one. */
  flush(): Promise<void> {
    this.requested = true;
    if (!this.running) {
      this.running = (async () => {
        try {
          while (this.requested) {
            this.requested = false;
            await this.publishPending();
          }
        } finally {
          this.running = undefined;
        }
      })();
    }
    return this.running;
  }

  private async publishPending(): Promise<void> {
    // With the link down a publish would only wait for its timeout; the reconnection flushes.
    if (!this.link.state.connected) return this.holding('NATS disconnected');
    let published = 0;
    try {
      for (;;) {
        const batch = await this.outbox.pending(BATCH);
        for (const e of batch) {
          try {
            await this.bus.persist(e.name, e.payload as never, e.messageId);
          } catch (err) {
            const message = (err as Error).message;
            if (message.startsWith('refusing to send invalid')) {
              this.logger.error('outbox event fails its schema; set aside', { messageId: e.messageId, name: e.name, error: message });
              await this.outbox.markUnpublishable(e.messageId, message);
              continue;
            }
            await this.outbox.markAttempt(e.messageId, message);
            return this.holding(message);
          }
          await this.outbox.markPublished(e.messageId, new Date());
          published++;
        }
        if (batch.length < BATCH) break;
      }
    } catch (err) {
      return this.holding(`outbox unavailable: ${(err as Error).message}`);
    }
    if (this.backlogSince !== undefined) {
      this.logger.info('scaling events caught up with JetStream', { published, waitedMs: Date.now() - this.backlogSince });
      this.backlogSince = undefined;
    }
  }

  private holding(reason: string): void {
    if (this.backlogSince !== undefined) return;
    this.backlogSince = Date.now();
    this.logger.warn('scaling events held in the outbox until JetStream acknowledges them', { reason });
  }
}
