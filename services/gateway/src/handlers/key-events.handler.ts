import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { KeyRevoked } from '@maas/contracts';
import { On } from '@maas/nats';
import { Logger } from '@maas/logging';
import { BatchService } from '../batch/batch.service';
import { KeyAuthService } from '../services/key-auth.service';

@Controller()
export class KeyEventsHandler {
  constructor(
    private readonly keys: KeyAuthService,
    private readonly batches: BatchService,
    private readonly logger: Logger,
  ) {}

  /** Every gateway drops a revoked key at once, and the key's batches stop (every gateway asks; the first moves them). */
  @On('key.revoked', { broadcast: true })
  async revoked(@Payload() msg: KeyRevoked) {
    this.keys.revoked(msg);
    await this.batches
      .keyRevoked(msg.keyId)
      .catch((err: unknown) => this.logger.error('cancelling the batches of a revoked key failed', { keyId: msg.keyId, err }));
  }
}
