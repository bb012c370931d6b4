import { Injectable } from '@nestjs/common';
import type { ModelCataloguePublished } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** The model catalogue over NATS, for the gateways. */
@Injectable()
export class ModelCatalogueEventsRepository {
  constructor(private readonly bus: MessageBus) {}

  published(catalogue: ModelCataloguePublished): void {
    this.bus.publish('model.catalogue-published', catalogue);
  }
}
