import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type {
  BatchBacklogReported,
  MetricAggregated,
  ModelDemandPending,
  RequestCompleted,
  WorkerHeartbeat,
  WorkerRegistered,
} from '@maas/contracts';
import { Logger } from '@maas/logging';
import { Clock, CLOCK } from '@maas/platform';
import { DemandSeries } from '../policy/demand-series';
import { classifyLedgerError, describe } from '../policy/ledger-failure';
import { rollUp } from '../policy/rollup';
import { MetricEventsRepository } from '../repositories/metric-events.repository';
import { MetricSampleRepository } from '../repositories/metric-sample.repository';
import { METRICS_COLLECTOR_CONFIG, MetricsCollectorConfig } from '../metrics-collector.config';
import { modelLabel } from './model-label';

// Instantaneous values only: rates, percentiles and in-flight means come from the gateways' counters and
// histograms (maas_gateway_*) and this service's maas_requests_total / maas_tokens_total.
const labels = ['model'];
const gauges = {
  queue: new Gauge({
    name: 'maas_model_queue_depth',
    help: 'Requests waiting: in the runtimes (their heartbeats) and held by gateways for a worker',
    labelNames: labels,
  }),
  workers: new Gauge({ name: 'maas_model_ready_workers', help: 'Workers serving the model with a recent heartbeat', labelNames: labels }),
  batchBacklog: new Gauge({
    name: 'maas_model_batch_backlog_requests',
    help: 'Batch requests queued or running, not yet done',
    labelNames: labels,
  }),
  batchBacklogTokens: new Gauge({
    name: 'maas_model_batch_backlog_input_tokens',
    help: 'Estimated prompt tokens of the batch backlog',
    labelNames: labels,
  }),
  batchDeadline: new Gauge({
    name: 'maas_model_batch_deadline_timestamp_seconds',
    help: 'Unix time of the earliest deadline of the batch backlog (absent without backlog)',
    labelNames: labels,
  }),
};

const ROLLUPS = [
  { from: 10, to: 60 },
  { from: 60, to: 600 },
];

/** Turns usage events and worker load into per-model series; publishes and stores each interval. */
@Injectable()
export class DemandSeriesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly series: DemandSeries;
  private readonly pending = new Map<string, MetricAggregated[]>(); // `${model}|${resolution}` → finer samples awaiting rollup
  private timer?: NodeJS.Timeout;
  private lastPrune = 0;

  constructor(
    @Inject(METRICS_COLLECTOR_CONFIG) private readonly config: MetricsCollectorConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly aggregates: MetricEventsRepository,
    private readonly samples: MetricSampleRepository,
    private readonly logger: Logger,
  ) {
    this.series = new DemandSeries(config.METRICS_INTERVAL_MS, config.METRICS_LATENESS_MS);
  }

  onApplicationBootstrap(): void {
    this.series.close(this.clock.now()); // start counting from now
    this.timer = setInterval(
      () => void this.tick().catch((err) => this.logger.error('aggregation failed', { err })),
      Math.min(1000, this.config.METRICS_INTERVAL_MS),
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  requestCompleted(u: RequestCompleted): void {
    this.series.requestCompleted(u);
  }

  workerRegistered(w: WorkerRegistered): void {
    this.series.workerRegistered(w, this.clock.now());
  }

  heartbeat(h: WorkerHeartbeat): void {
    this.series.heartbeat(h, this.clock.now());
  }

  workerLeft(workerId: string): void {
    this.series.workerLeft(workerId);
  }

  pendingReported(r: ModelDemandPending): void {
    this.series.pendingReported(r, this.clock.now());
  }

  backlogReported(r: BatchBacklogReported): void {
    this.series.backlogReported(r, this.clock.now());
  }

  async tick(): Promise<void> {
    const now = this.clock.now();
    const aggregates = this.series.close(now);
    if (aggregates.length === 0) return;
    // One model's aggregate that cannot be sent or stored never holds back the others'.
    const sent = aggregates.filter((a) => {
      try {
        this.aggregates.aggregated(a);
        this.export(a);
        return true;
      } catch (err) {
        this.logger.error('aggregate not published', { model: a.model, intervalStart: a.intervalStart, err });
        return false;
      }
    });
    await this.store(sent);
    await this.rollUp(sent);
    if (now - this.lastPrune > 3_600_000) {
      this.lastPrune = now;
      await this.prune(now);
    }
  }

  private export(a: MetricAggregated): void {
    const model = modelLabel(a.model, a.readyWorkers > 0 || (a.batchBacklog ?? 0) > 0);
    // Gauges of several models cannot share one label: a model with no label of its own is not exported.
    if (model !== a.model) return;
    const l = { model };
    gauges.queue.set(l, a.queueDepth);
    gauges.workers.set(l, a.readyWorkers);
    gauges.batchBacklog.set(l, a.batchBacklog ?? 0);
    gauges.batchBacklogTokens.set(l, a.batchBacklogInputTokens ?? 0);
    if (a.batchDeadline) gauges.batchDeadline.set(l, Date.parse(a.batchDeadline) / 1000);
    else gauges.batchDeadline.remove(l);
  }

  /** Stores samples together, or one by one when that fails, so only a failing model's sample is lost. */
  private async store(samples: MetricAggregated[]): Promise<void> {
    if (samples.length === 0) return;
    try {
      await this.samples.store(samples);
      return;
    } catch (err) {
      // The database away is no sample's fault: aggregates still go out on NATS, only their storage waits for it.
      if (classifyLedgerError(err).kind === 'unavailable')
        return this.logger.warn('metric samples not stored: database unavailable', { samples: samples.length, reason: describe(err) });
      if (samples.length === 1)
        return this.logger.error('metric sample not stored', { model: samples[0].model, intervalStart: samples[0].intervalStart, err });
    }
    for (const s of samples) await this.store([s]);
  }

  /** Folds finished samples into the next resolution once its interval is complete. */
  private async rollUp(fresh: MetricAggregated[]): Promise<void> {
    let input = fresh;
    for (const { from, to } of ROLLUPS) {
      const produced: MetricAggregated[] = [];
      for (const s of input) {
        const key = `${s.model}|${from}`;
        const buffer = this.pending.get(key) ?? [];
        const window = Math.floor(Date.parse(s.intervalStart) / (to * 1000)) * to * 1000;
        if (buffer.length && Math.floor(Date.parse(buffer[0].intervalStart) / (to * 1000)) * to * 1000 !== window) {
          const start = Math.floor(Date.parse(buffer[0].intervalStart) / (to * 1000)) * to * 1000;
          const r = rollUp(buffer, start, to);
          if (r) produced.push(r);
          buffer.length = 0;
        }
        buffer.push(s);
        this.pending.set(key, buffer);
      }
      if (produced.length) await this.store(produced);
      input = produced;
    }
  }

  private async prune(now: number): Promise<void> {
    await this.samples.prune(10, new Date(now - this.config.RETENTION_10S_MS));
    await this.samples.prune(60, new Date(now - this.config.RETENTION_1M_MS));
    await this.samples.prune(600, new Date(now - this.config.RETENTION_10M_MS));
  }
}
