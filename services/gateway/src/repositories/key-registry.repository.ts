import { Injectable } from '@nestjs/common';
import type { KeyVerifyReply } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** key-registry over NATS: the authority on keys, asked only on a cache miss. */
@Injectable()
export class KeyRegistryRepository {
  constructor(private readonly bus: MessageBus) {}

  verify(secret: string, timeoutMs: number): Promise<KeyVerifyReply> {
    return this.bus.request('key-registry.verify', { key: secret }, timeoutMs);
  }
}
