import { Injectable } from '@nestjs/common';
import type { ModelDemandPending, RegistrySnapshot } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** router's registry, asked once at start (events keep the replica current after that); requests held for capacity, reported. */
@Injectable()
export class RegistryRepository {
  constructor(private readonly bus: MessageBus) {}

  snapshot(timeoutMs = 2000): Promise<RegistrySnapshot> {
    return this.bus.request('router.list-workers', {}, timeoutMs);
  }

  async reportPending(report: ModelDemandPending): Promise<void> {
    this.bus.publish('model.demand-pending', report);
  }
}
