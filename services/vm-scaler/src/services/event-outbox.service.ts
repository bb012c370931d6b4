import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { BusLink } from '@maas/platform';
import { EventOutboxRepository } from '../repositories/event-outbox.repository';
import { ScalingEventsRepository } from '../repositories/scaling-events.repository';

/** Retry cadence for events JetStream has not acknowledged (an outage, a timed-out publish). */
const RETRY_MS = 2000;
/** Acknowledged events are kept a day, for inspection, then dropped. */
const KEEP_PUBLISHED_MS = 86_400_000;

/** Keeps the outbox moving: publishes what is pending at start, every few seconds, and at once when NATS reconnects. */
@Injectable()
export class EventOutboxService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private unwatch?: () => void;
  private lastPrune = 0;

  constructor(
    private readonly events: ScalingEventsRepository,
    private readonly outbox: EventOutboxRepository,
    private readonly link: BusLink,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.unwatch = this.link.onChange((state) => {
      if (state.connected) void this.events.flush();
    });
    this.timer = setInterval(() => void this.tick(), RETRY_MS);
    this.timer.unref();
    void this.events.flush();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unwatch?.();
  }

  private async tick(): Promise<void> {
    await this.events.flush(true);
    const now = Date.now();
    if (now - this.lastPrune < 3_600_000) return;
    this.lastPrune = now;
    await this.outbox
      .prunePublished(new Date(now - KEEP_PUBLISHED_MS))
      .catch((err: Error) => this.logger.warn('could not prune the outbox', { error: err.message }));
  }
}
