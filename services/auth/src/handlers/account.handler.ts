import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { DisabledAccountListRequest } from '@maas/contracts';
import { On } from '@maas/nats';
import { UserService } from '../services/user.service';

/** Which accounts are disabled, for key-registry's view of them (it resynchronises from this). */
@Controller()
export class AccountHandler {
  constructor(private readonly users: UserService) {}

  @On('auth.list-disabled-accounts')
  listDisabled(@Payload() msg: DisabledAccountListRequest) {
    return this.users.disabledAccounts(msg.since ? new Date(msg.since) : undefined);
  }
}
