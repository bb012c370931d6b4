import { Injectable } from '@nestjs/common';
import type { UserUsageReply } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** One day's usage of one kind (interactive, batch), as the portal charts it. */
export type DailyUsageRow = UserUsageReply['days'][number];

/**
 * metrics-collector's usage ledger over NATS (`metrics-collector.user-usage`): auth asks rather than
 * reading the collector's table. A user's usage is what their own keys did plus what a trusted service
 * key (Open WebUI) did on their behalf.
 */
@Injectable()
export class UsageLedgerRepository {
  constructor(private readonly bus: MessageBus) {}

  async dailyForUser(userEmail: string, since: Date, timeZone: string): Promise<DailyUsageRow[]> {
    return (await this.bus.request('metrics-collector.user-usage', { userEmail, since: since.toISOString(), timeZone }, 3000)).days;
  }
}
