import { Injectable } from '@nestjs/common';
import type { WorkerDeregistered } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** What the router tells the platform about its workers: today only that one left. */
@Injectable()
export class WorkerEventsRepository {
  constructor(private readonly bus: MessageBus) {}

  /** Every gateway drops the worker from its replica. */
  deregistered(msg: WorkerDeregistered): void {
    this.bus.publish('worker.deregistered', msg);
  }
}
