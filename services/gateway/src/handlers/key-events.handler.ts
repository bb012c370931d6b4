import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { KeyRevoked } from '@maas/contracts';
import { On } from '@maas/nats';
import { KeyAuthService } from '../services/key-auth.service';

@Controller()
export class KeyEventsHandler {
  constructor(private readonly keys: KeyAuthService) {}

  /** Every gateway drops a revoked key at once. */
  @On('key.revoked', { broadcast: true })
  revoked(@Payload() msg: KeyRevoked) {
    this.keys.revoked(msg);
  }
}
