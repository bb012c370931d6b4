import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { RequestCompleted, WorkerHeartbeat } from '@maas/contracts';
import { On, OnStream } from '@maas/nats';
import { UsageLedgerService } from '../services/usage-ledger.service';

@Controller()
export class UsageHandler {
  constructor(private readonly ledger: UsageLedgerService) {}

  @OnStream('usage.request-completed', 'metrics-collector')
  requestCompleted(@Payload() msg: RequestCompleted) {
    return this.ledger.requestCompleted(msg);
  }

  @On('worker.heartbeat')
  heartbeat(@Payload() msg: WorkerHeartbeat) {
    this.ledger.heartbeat(msg);
  }
}
