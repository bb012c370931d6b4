import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type {
  BatchBacklogReported,
  KeyUsageRequest,
  ModelDemandPending,
  RequestCompleted,
  RequestsCompleted,
  UsageDeadLetterListRequest,
  UsageRedriveRequest,
  UserUsageRequest,
  WorkerDeregistered,
  WorkerHeartbeat,
  WorkerRegistered,
} from '@maas/contracts';
import { On, OnStream } from '@maas/nats';
import { DemandSeriesService } from '../services/demand-series.service';
import { UsageIntakeService } from '../services/usage-intake.service';
import { UsageLedgerService } from '../services/usage-ledger.service';

@Controller()
export class UsageHandler {
  constructor(
    private readonly intake: UsageIntakeService,
    private readonly ledger: UsageLedgerService,
    private readonly series: DemandSeriesService,
  ) {}

  /** Single events, as gateways sent them before batches; still in the stream after an upgrade. */
  @OnStream('usage.request-completed', 'metrics-collector')
  requestCompleted(@Payload() msg: RequestCompleted) {
    return this.intake.requestCompleted(msg);
  }

  @OnStream('usage.requests-completed', 'metrics-collector-batches')
  requestsCompleted(@Payload() msg: RequestsCompleted) {
    return this.intake.requestsCompleted(msg);
  }

  @On('metrics-collector.key-usage')
  keyUsage(@Payload() msg: KeyUsageRequest) {
    return this.ledger.keyUsage(msg);
  }

  @On('metrics-collector.user-usage')
  userUsage(@Payload() msg: UserUsageRequest) {
    return this.ledger.userUsage(msg);
  }

  @On('metrics-collector.list-dead-letters')
  listDeadLetters(@Payload() msg: UsageDeadLetterListRequest) {
    return this.intake.listDeadLetters(msg);
  }

  @On('metrics-collector.redrive-usage')
  redrive(@Payload() msg: UsageRedriveRequest) {
    return this.intake.redrive(msg);
  }

  @On('worker.registered')
  registered(@Payload() msg: WorkerRegistered) {
    this.series.workerRegistered(msg);
  }

  @On('worker.heartbeat')
  heartbeat(@Payload() msg: WorkerHeartbeat) {
    this.series.heartbeat(msg);
  }

  @On('model.demand-pending')
  pendingReported(@Payload() msg: ModelDemandPending) {
    this.series.pendingReported(msg);
  }

  @On('batch.backlog-reported')
  backlogReported(@Payload() msg: BatchBacklogReported) {
    this.series.backlogReported(msg);
  }

  @On('worker.deregistered')
  deregistered(@Payload() msg: WorkerDeregistered) {
    this.series.workerLeft(msg.workerId);
  }
}
