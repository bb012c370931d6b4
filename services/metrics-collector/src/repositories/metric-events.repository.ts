import { Injectable } from '@nestjs/common';
import type { MetricAggregated } from '@maas/contracts';
import { MessageBus } from '@maas/nats';

/** Per-model aggregates over NATS, for the forecaster and the vm-scaler. */
@Injectable()
export class MetricEventsRepository {
  constructor(private readonly bus: MessageBus) {}

  aggregated(aggregate: MetricAggregated): void {
    this.bus.publish('metric.aggregated', aggregate);
  }
}
