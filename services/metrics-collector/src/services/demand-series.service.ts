import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { BatchBacklogReported, MetricAggregated, RequestCompleted, WorkerHeartbeat, WorkerRegistered } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { MessageBus } from '@maas/nats';
import { Clock, CLOCK } from '@maas/platform';
import { DemandSeries } from '../policy/demand-series';
import { rollUp } from '../policy/rollup';
import { MetricSampleRepository } from '../repositories/metric-sample.repository';
import { METRICS_COLLECTOR_CONFIG, MetricsCollectorConfig } from '../metrics-collector.config';

const labels = ['model'];
const gauges = {
  requestRate: new Gauge({ name: 'maas_model_request_rate', help: 'Requests per second over the last interval', labelNames: labels }),
  inputTps: new Gauge({ name: 'maas_model_input_tokens_per_second', help: 'Prompt tokens per second over the last interval', labelNames: labels }),
  outputTps: new Gauge({ name: 'maas_model_output_tokens_per_second', help: 'Generated tokens per second over the last interval', labelNames: labels }),
  concurrency: new Gauge({ name: 'maas_model_concurrency', help: 'Mean requests in flight over the last interval', labelNames: labels }),
  queue: new Gauge({ name: 'maas_model_queue_depth', help: 'Requests waiting in the runtimes', labelNames: labels }),
  ttftP50: new Gauge({ name: 'maas_model_ttft_p50_seconds', help: 'Time to first token, median over the last interval', labelNames: labels }),
  ttftP95: new Gauge({ name: 'maas_model_ttft_p95_seconds', help: 'Time to first token, p95 over the last interval', labelNames: labels }),
  errors: new Gauge({ name: 'maas_model_errors', help: 'Failed requests in the last interval', labelNames: labels }),
  workers: new Gauge({ name: 'maas_model_ready_workers', help: 'Workers serving the model with a recent heartbeat', labelNames: labels }),
  batchRate: new Gauge({ name: 'maas_model_batch_request_rate', help: 'Batch requests completed per second over the last interval', labelNames: labels }),
  batchBacklog: new Gauge({ name: 'maas_model_batch_backlog_requests', help: 'Batch requests queued or running, not yet done', labelNames: labels }),
  batchBacklogTokens: new Gauge({ name: 'maas_model_batch_backlog_input_tokens', help: 'Estimated prompt tokens of the batch backlog', labelNames: labels }),
  batchDeadline: new Gauge({ name: 'maas_model_batch_deadline_seconds', help: 'Seconds until the earliest deadline of the batch backlog (absent without backlog)', labelNames: labels }),
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
    private readonly bus: MessageBus,
    private readonly samples: MetricSampleRepository,
    private readonly logger: Logger,
  ) {
    this.series = new DemandSeries(config.METRICS_INTERVAL_MS, config.METRICS_LATENESS_MS);
  }

  onApplicationBootstrap(): void {
    this.series.close(this.clock.now()); // start counting from now
    this.timer = setInterval(() => void this.tick().catch((err) => this.logger.error('aggregation failed', { err })), Math.min(1000, this.config.METRICS_INTERVAL_MS));
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

  backlogReported(r: BatchBacklogReported): void {
    this.series.backlogReported(r, this.clock.now());
  }

  async tick(): Promise<void> {
    const now = this.clock.now();
    const aggregates = this.series.close(now);
    if (aggregates.length === 0) return;
    for (const a of aggregates) {
      this.bus.publish('metric.aggregated', a);
      this.export(a);
    }
    await this.samples.store(aggregates);
    await this.rollUp(aggregates);
    if (now - this.lastPrune > 3_600_000) {
      this.lastPrune = now;
      await this.prune(now);
    }
  }

  private export(a: MetricAggregated): void {
    const l = { model: a.model };
    gauges.requestRate.set(l, a.requestRate);
    gauges.inputTps.set(l, a.inputTokensPerSecond ?? 0);
    gauges.outputTps.set(l, a.outputTokensPerSecond ?? 0);
    gauges.concurrency.set(l, a.concurrency);
    gauges.queue.set(l, a.queueDepth);
    if (a.ttftP50Ms !== null && a.ttftP50Ms !== undefined) gauges.ttftP50.set(l, a.ttftP50Ms / 1000);
    if (a.ttftP95Ms !== null && a.ttftP95Ms !== undefined) gauges.ttftP95.set(l, a.ttftP95Ms / 1000);
    gauges.errors.set(l, a.errors ?? 0);
    gauges.workers.set(l, a.readyWorkers);
    gauges.batchRate.set(l, a.batchRequestRate ?? 0);
    gauges.batchBacklog.set(l, a.batchBacklog ?? 0);
    gauges.batchBacklogTokens.set(l, a.batchBacklogInputTokens ?? 0);
    if (a.batchDeadline) gauges.batchDeadline.set(l, Math.round((Date.parse(a.batchDeadline) - this.clock.now()) / 1000));
    else gauges.batchDeadline.remove(l);
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
      if (produced.length) await this.samples.store(produced);
      input = produced;
    }
  }

  private async prune(now: number): Promise<void> {
    await this.samples.prune(10, new Date(now - this.config.RETENTION_10S_MS));
    await this.samples.prune(60, new Date(now - this.config.RETENTION_1M_MS));
    await this.samples.prune(600, new Date(now - this.config.RETENTION_10M_MS));
  }
}
