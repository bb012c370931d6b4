import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type {
  RegistryListRequest,
  RegistrySnapshot,
  WorkerDeregistered,
  WorkerDraining,
  WorkerHeartbeat,
  WorkerRegistered,
} from '@maas/contracts';
import { On } from '@maas/nats';
import { RegistryService } from '../services/registry.service';

@Controller()
export class WorkerHandler {
  constructor(private readonly registry: RegistryService) {}

  @On('worker.registered')
  registered(@Payload() msg: WorkerRegistered) {
    return this.registry.registered(msg);
  }

  @On('worker.heartbeat')
  heartbeat(@Payload() msg: WorkerHeartbeat) {
    this.registry.heartbeat(msg);
  }

  @On('worker.draining')
  draining(@Payload() msg: WorkerDraining) {
    return this.registry.draining(msg);
  }

  @On('worker.deregistered')
  deregistered(@Payload() msg: WorkerDeregistered) {
    if (msg.reason !== 'expired') return this.registry.deregistered(msg.workerId, msg.reason);
  }

  @On('router.list-workers')
  list(@Payload() msg: RegistryListRequest): RegistrySnapshot {
    return this.registry.snapshot(msg.model);
  }
}
