import { Injectable } from '@nestjs/common';
import { MessageBus } from '@maas/nats';
import type { DisabledAccount } from './account-status.repository';

/** auth over NATS: the source of which accounts are disabled. */
@Injectable()
export class AuthAccountsRepository {
  constructor(private readonly bus: MessageBus) {}

  /** Accounts disabled now; with `since`, only those disabled after it. */
  async disabled(since?: Date): Promise<{ takenAt: Date; accounts: DisabledAccount[] }> {
    const reply = await this.bus.request('auth.list-disabled-accounts', since ? { since: since.toISOString() } : {}, 3000);
    return {
      takenAt: new Date(reply.takenAt),
      accounts: reply.accounts.map((a) => ({ email: a.email, disabledAt: new Date(a.disabledAt) })),
    };
  }
}
