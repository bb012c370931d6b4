import { Injectable } from '@nestjs/common';
import type { AccountStatusChanged } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** Account events over NATS: key-registry stops a disabled account's keys from them. */
@Injectable()
export class AccountEventsRepository {
  constructor(private readonly bus: MessageBus) {}

  statusChanged(event: AccountStatusChanged): void {
    this.bus.publish('account.status-changed', event);
  }
}
