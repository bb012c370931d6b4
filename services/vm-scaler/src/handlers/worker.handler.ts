import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { WorkerDeregistered, WorkerDraining, WorkerHeartbeat, WorkerRegistered } from '@maas/contracts';
import { On } from '@maas/nats';
import { WorkerFleetService } from '../services/worker-fleet.service';

@Controller()
export class WorkerHandler {
  constructor(private readonly fleet: WorkerFleetService) {}

  @On('worker.registered')
  registered(@Payload() msg: WorkerRegistered) {
    this.fleet.registered(msg);
  }

  @On('worker.heartbeat')
  heartbeat(@Payload() msg: WorkerHeartbeat) {
    this.fleet.heartbeat(msg);
  }

  @On('worker.draining')
  draining(@Payload() msg: WorkerDraining) {
    this.fleet.draining(msg);
  }

  @On('worker.deregistered')
  deregistered(@Payload() msg: WorkerDeregistered) {
    this.fleet.deregistered(msg);
  }
}
