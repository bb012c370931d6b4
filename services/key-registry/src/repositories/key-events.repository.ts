import { Injectable } from '@nestjs/common';
import type { KeyRevoked } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** Key events over NATS: gateways drop a revoked key from their caches at once. */
@Injectable()
export class KeyEventsRepository {
  constructor(private readonly bus: MessageBus) {}

  revoked(event: KeyRevoked): void {
    this.bus.publish('key.revoked', event);
  }
}
