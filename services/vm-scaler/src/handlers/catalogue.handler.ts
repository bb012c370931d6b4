import { Controller } from '@nestjs/common';
import type { ModelCataloguePublished } from '@maas/contracts';
import { On } from '@maas/nats';
import { ModelCatalogueService } from '../services/model-catalogue.service';

@Controller()
export class CatalogueHandler {
  constructor(private readonly catalogue: ModelCatalogueService) {}

  /** A gateway starting asks rather than wait for the next announcement. */
  @On('vm-scaler.list-models')
  list(): ModelCataloguePublished {
    return this.catalogue.current();
  }
}
