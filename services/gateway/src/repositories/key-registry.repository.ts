import { Injectable } from '@nestjs/common';
import type { KeyVerifyReply, KeyVerifyRequest } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** key-registry over NATS: the authority on keys, asked only on a cache miss, and only ever shown a key's prefix and digest. */
@Injectable()
export class KeyRegistryRepository {
  constructor(private readonly bus: MessageBus) {}

  verify(key: KeyVerifyRequest, timeoutMs: number): Promise<KeyVerifyReply> {
    return this.bus.request('key-registry.verify', { prefix: key.prefix, digest: key.digest }, timeoutMs);
  }
}
