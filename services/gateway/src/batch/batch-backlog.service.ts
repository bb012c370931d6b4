import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { BatchBacklogReported } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { BatchBacklogRepository } from './batch-backlog.repository';
import { BatchInputsService } from './batch-inputs.service';
import { BatchRepository } from './batch.repository';

type ModelBacklog = BatchBacklogReported['models'][number];

/**
 * Reports the batch work not yet done, per model, with its earliest deadline: demand that can wait,
 * which the metrics-collector passes on to the vm-scaler. Requests of a batch without a result are
 * split over its models by their share of its lines (a batch is nearly always one model). Reports
 * every interval while any batch is queued or running, and once more when the last one is done.
 */
@Injectable()
export class BatchBacklogService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private hadBacklog = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly inputs: BatchInputsService,
    private readonly batches: BatchRepository,
    private readonly backlog: BatchBacklogRepository,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.GATEWAY_BATCH_BACKLOG_INTERVAL;
    if (every <= 0) return;
    this.timer = setInterval(() => void this.report().catch((err) => this.logger.warn('batch backlog report failed', { err })), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Publishes the backlog; undefined when there is none and there was none last time either. */
  async report(): Promise<BatchBacklogReported | undefined> {
    const open = (await this.batches.unfinished()).filter((b) => b.status === 'validating' || b.status === 'in_progress');
    if (open.length === 0 && !this.hadBacklog) return undefined;
    const counts = await this.batches.counts(open.map((b) => b.id));
    const perModel = new Map<string, ModelBacklog>();
    for (const b of open) {
      const done = counts.get(b.id);
      const remaining = Math.max(0, b.total - (done?.completed ?? 0) - (done?.failed ?? 0));
      if (remaining === 0 || b.total === 0) continue;
      const mix = await this.inputs.models(b);
      for (const [model, lines] of mix) {
        const share = lines / b.total;
        const m = perModel.get(model) ?? { model, requests: 0, inputTokens: 0, batches: 0, deadline: null };
        const deadline = b.expiresAt.toISOString();
        perModel.set(model, {
          model,
          requests: m.requests + Math.round(remaining * share),
          inputTokens: m.inputTokens + Math.round((b.inputTokens * share * remaining) / b.total),
          batches: m.batches + 1,
          deadline: m.deadline === null || deadline < m.deadline ? deadline : m.deadline,
        });
      }
    }
    const report: BatchBacklogReported = {
      reportedAt: new Date(this.clock.now()).toISOString(),
      models: [...perModel.values()].filter((m) => m.requests > 0),
    };
    this.backlog.reported(report);
    this.hadBacklog = report.models.length > 0;
    return report;
  }
}
