import { Injectable } from '@nestjs/common';
import type { ModelCataloguePublished, ModelDemandPending, RegistrySnapshot } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** router's registry, asked once at start (events keep the replica current after that); requests held for capacity, reported. */
@Injectable()
export class RegistryRepository {
  constructor(private readonly bus: MessageBus) {}

  snapshot(timeoutMs = 2000): Promise<RegistrySnapshot> {
    return this.bus.request('router.list-workers', {}, timeoutMs);
  }

  /** The vm-scaler's model catalogue, asked at start (its announcements keep it current after that). */
  catalogue(timeoutMs = 2000): Promise<ModelCataloguePublished> {
    return this.bus.request('vm-scaler.list-models', {}, timeoutMs);
  }

  async reportPending(report: ModelDemandPending): Promise<void> {
    this.bus.publish('model.demand-pending', report);
  }
}
