import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { AccountStatusChanged } from '@maas/contracts';
import { On } from '@maas/nats';
import { AccountStatusService } from '../services/account-status.service';

@Controller()
export class AccountHandler {
  constructor(private readonly accounts: AccountStatusService) {}

  @On('account.status-changed')
  statusChanged(@Payload() msg: AccountStatusChanged) {
    return this.accounts.statusChanged(msg);
  }
}
