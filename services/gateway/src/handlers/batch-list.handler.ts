import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { BatchListRequest } from '@maas/contracts';
import { On } from '@maas/nats';
import { BatchService } from '../batch/batch.service';

/** The portal asks for a user's batches and their progress (they live in the gateway's tables). */
@Controller()
export class BatchListHandler {
  constructor(private readonly batches: BatchService) {}

  @On('gateway.list-batches')
  list(@Payload() request: BatchListRequest) {
    return this.batches.summaries(request);
  }
}
