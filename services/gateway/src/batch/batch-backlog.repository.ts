import { Injectable } from '@nestjs/common';
import type { BatchBacklogReported } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** The batch backlog over NATS, for the metrics-collector (and through it the vm-scaler). */
@Injectable()
export class BatchBacklogRepository {
  constructor(private readonly bus: MessageBus) {}

  reported(report: BatchBacklogReported): void {
    this.bus.publish('batch.backlog-reported', report);
  }
}
