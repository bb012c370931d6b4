import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { Logger } from '@maas/logging';
import { bestConcurrencyFor } from '@maas/routing';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { BatchController, InteractiveSample, objectivesFor, pacedLimits, WorkerLoad } from '../policy/batch-controller';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { overLimit, shedBatch } from './batch-shedding';
import { InteractiveLatency, onInteractiveLatency } from './request-metrics';
import { RoutingService } from './routing.service';
import { WorkerRegistryService } from './worker-registry.service';

const limitGauge = new Gauge({
  name: 'maas_gateway_batch_limit',
  help: 'Batch requests this gateway allows on the worker now (adaptive batch control), by model and worker',
  labelNames: ['model', 'worker'],
});
const objectiveCounter = new Counter({
  name: 'maas_gateway_interactive_objective_total',
  help: 'Streamed interactive requests by model and whether they met the batch control objectives (TTFT and TPOT p99 bounds): met, missed',
  labelNames: ['model', 'result'],
});
const p99Gauge = new Gauge({
  name: 'maas_gateway_interactive_p99_seconds',
  help: 'Interactive TTFT and TPOT p99 over the adaptive batch control window, by model and metric (ttft, tpot)',
  labelNames: ['model', 'metric'],
});

/** Samples kept per model between two updates at most: a flood of requests cannot grow memory. */
const MAX_PENDING = 10_000;

/**
 * Runs the adaptive batch control (GATEWAY_BATCH_CONTROL=adaptive): every GATEWAY_BATCH_CONTROL_INTERVAL,
 * one BatchController per served model reads the interactive latencies this gateway measured since the
 * last update and its workers' heartbeats, and its per-worker limits go to routing, which admits and
 * places batch work within them (paced, see pacedLimits); with GATEWAY_BATCH_SHED, batch requests over a
 * worker's limit are shed (see batch-shedding).
 */
@Injectable()
export class BatchControlService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly controllers = new Map<string, BatchController>();
  private readonly pending = new Map<string, InteractiveSample[]>();
  private readonly gauged = new Map<string, Set<string>>();
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly registry: WorkerRegistryService,
    private readonly routing: RoutingService,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.GATEWAY_BATCH_CONTROL !== 'adaptive') return;
    this.unsubscribe = onInteractiveLatency((l) => this.measured(l));
    this.timer = setInterval(() => this.update(), this.config.GATEWAY_BATCH_CONTROL_INTERVAL);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  /** One interactive request's latency: kept for the next update of its model's controller. */
  measured(l: InteractiveLatency): void {
    if (!this.controllers.has(l.model)) return; // not a model served here now: nothing to control
    const objectives = objectivesFor(this.config.GATEWAY_BATCH_OBJECTIVES, l.model);
    const met = l.ttftMs <= objectives.ttftP99Ms && (l.tpotMs === undefined || l.tpotMs <= objectives.tpotP99Ms);
    objectiveCounter.inc({ model: l.model, result: met ? 'met' : 'missed' });
    const queue = this.pending.get(l.model) ?? [];
    // the oldest quarter goes at once: a flood costs no copy of the queue per sample
    if (queue.length >= MAX_PENDING) queue.splice(0, MAX_PENDING / 4);
    queue.push({ atMs: l.firstTokenAt, workerId: l.workerId ?? undefined, ttftMs: l.ttftMs, tpotMs: l.tpotMs });
    this.pending.set(l.model, queue);
  }

  /** One control step for every model ready workers serve. */
  update(): void {
    const now = this.clock.monotonic();
    const served = new Map<string, WorkerLoad[]>();
    for (const w of this.registry.all()) {
      // a batch-pool worker runs no interactive request: nothing to protect there
      if (w.state !== 'ready' || w.registration.pool === 'batch') continue;
      const load: WorkerLoad = {
        workerId: w.id,
        running: w.load?.running ?? 0,
        waiting: w.load?.waiting ?? 0,
        batchInFlight: this.routing.batchInFlight(w.id),
        kvUsage: w.load?.kvCacheUsage,
        stepMs: w.load?.stepMs,
        capacity: w.registration.capacity,
      };
      for (const model of w.models.keys()) {
        const list = served.get(model);
        if (list) list.push(load);
        else served.set(model, [load]);
      }
    }
    for (const model of this.controllers.keys()) if (!served.has(model)) this.forget(model);
    for (const [model, workers] of served) {
      const controller = this.controllerFor(model, workers);
      const samples = this.pending.get(model) ?? [];
      const limits = controller.update(now, samples, workers);
      this.pending.delete(model);
      // every input and output of the step: a debug log of a run replays through BatchController as it ran
      this.logger.debug('batch control', { model, nowMs: now, samples, workers, limits: Object.fromEntries(limits) });
      // admission adds at most one batch request per worker per update (see pacedLimits)
      this.routing.setBatchLimits(model, pacedLimits(limits, workers));
      // GATEWAY_BATCH_SHED: a cut acts now, the youngest batch requests over a worker's limit are shed and requeued
      if (this.config.GATEWAY_BATCH_SHED) for (const [workerId, excess] of overLimit(limits, workers)) shedBatch(workerId, excess);
      this.gauge(model, limits, controller);
    }
  }

  private controllerFor(model: string, workers: readonly WorkerLoad[]): BatchController {
    // The ceiling: GATEWAY_BATCH_CONCURRENCY, else the largest worker's slots.
    const configured = bestConcurrencyFor(this.config.GATEWAY_BATCH_CONCURRENCY, model);
    const ceiling = Number.isFinite(configured) ? configured : Math.max(1, ...workers.map((w) => w.capacity ?? 1));
    const existing = this.controllers.get(model);
    if (existing && existing.ceiling === ceiling) return existing;
    const controller = new BatchController({ objectives: objectivesFor(this.config.GATEWAY_BATCH_OBJECTIVES, model), ceiling });
    this.controllers.set(model, controller);
    return controller;
  }

  private gauge(model: string, limits: ReadonlyMap<string, number>, controller: BatchController): void {
    const before = this.gauged.get(model) ?? new Set<string>();
    for (const id of before) if (!limits.has(id)) limitGauge.remove({ model, worker: id });
    for (const [id, limit] of limits) limitGauge.set({ model, worker: id }, limit);
    this.gauged.set(model, new Set(limits.keys()));
    const p99 = controller.p99();
    if (p99.ttftMs === undefined) p99Gauge.remove({ model, metric: 'ttft' });
    else p99Gauge.set({ model, metric: 'ttft' }, p99.ttftMs / 1000);
    if (p99.tpotMs === undefined) p99Gauge.remove({ model, metric: 'tpot' });
    else p99Gauge.set({ model, metric: 'tpot' }, p99.tpotMs / 1000);
  }

  private forget(model: string): void {
    this.controllers.delete(model);
    this.pending.delete(model);
    this.routing.setBatchLimits(model, new Map());
    for (const id of this.gauged.get(model) ?? []) limitGauge.remove({ model, worker: id });
    this.gauged.delete(model);
    p99Gauge.remove({ model, metric: 'ttft' });
    p99Gauge.remove({ model, metric: 'tpot' });
  }
}
