import { Injectable } from '@nestjs/common';
import type { RegistrySnapshot } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** router's registry, asked once at start (events keep the replica current after that). */
@Injectable()
export class RegistryRepository {
  constructor(private readonly bus: MessageBus) {}

  snapshot(timeoutMs = 2000): Promise<RegistrySnapshot> {
    return this.bus.request('router.list-workers', {}, timeoutMs);
  }
}
