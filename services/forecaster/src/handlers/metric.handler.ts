import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { MetricAggregated } from '@maas/contracts';
import { On } from '@maas/nats';
import { DemandHistoryService } from '../services/demand-history.service';

@Controller()
export class MetricHandler {
  constructor(private readonly history: DemandHistoryService) {}

  @On('metric.aggregated')
  aggregated(@Payload() msg: MetricAggregated) {
    this.history.observe(msg);
  }
}
