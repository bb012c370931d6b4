import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { ModelCataloguePublished, WorkerDeregistered, WorkerDraining, WorkerHeartbeat, WorkerRegistered } from '@maas/contracts';
import { On } from '@maas/nats';
import { WorkerRegistryService } from '../services/worker-registry.service';

/** Every gateway hears every worker event and catalogue (broadcast), to keep its own replica of the registry. */
@Controller()
export class WorkerEventsHandler {
  constructor(private readonly registry: WorkerRegistryService) {}

  @On('worker.registered', { broadcast: true })
  registered(@Payload() msg: WorkerRegistered) {
    this.registry.registered(msg);
  }

  @On('worker.heartbeat', { broadcast: true })
  heartbeat(@Payload() msg: WorkerHeartbeat) {
    this.registry.heartbeat(msg);
  }

  @On('worker.draining', { broadcast: true })
  draining(@Payload() msg: WorkerDraining) {
    this.registry.draining(msg);
  }

  @On('worker.deregistered', { broadcast: true })
  deregistered(@Payload() msg: WorkerDeregistered) {
    this.registry.deregistered(msg);
  }

  @On('model.catalogue-published', { broadcast: true })
  catalogue(@Payload() msg: ModelCataloguePublished) {
    this.registry.catalogued(msg);
  }
}
