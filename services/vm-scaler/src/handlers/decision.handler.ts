import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { ScalingDecisionListRequest } from '@maas/contracts';
import { On } from '@maas/nats';
import { ScalingDecisionHistoryRepository } from '../repositories/scaling-decision-history.repository';

@Controller()
export class DecisionHandler {
  constructor(private readonly history: ScalingDecisionHistoryRepository) {}

  /** Operators read the recorded decisions page by page (`maas scaling explain|replay --db`). */
  @On('vm-scaler.list-decisions')
  list(@Payload() msg: ScalingDecisionListRequest) {
    return this.history.page(msg);
  }
}
