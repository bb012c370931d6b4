import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { ForecastPublished, MetricAggregated, ModelDemandPending } from '@maas/contracts';
import { On } from '@maas/nats';
import { ScalingInputsService } from '../services/scaling-inputs.service';

@Controller()
export class DemandHandler {
  constructor(private readonly inputs: ScalingInputsService) {}

  @On('metric.aggregated')
  aggregated(@Payload() msg: MetricAggregated) {
    this.inputs.observe(msg);
  }

  @On('forecast.published')
  forecast(@Payload() msg: ForecastPublished) {
    this.inputs.forecast(msg);
  }

  @On('model.demand-pending')
  pending(@Payload() msg: ModelDemandPending) {
    this.inputs.pendingReported(msg);
  }
}
