import { Inject, Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { Capability } from '@maas/contracts';
import {
  buildRoutingPolicy,
  ChatMessage,
  Endpoint,
  promptBlocks,
  RoutingDecision,
  RoutingPolicy,
  routingPresets,
} from '@maas/routing';
import { bestConcurrencyFor, spareBatchSlots } from '../batch/batch-capacity';
import { assignLanes, interactiveCandidates, LaneWorker, Lanes } from '../batch/batch-lanes';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { WorkerRegistryService } from './worker-registry.service';

export type RequestKind = 'interactive' | 'batch';

export interface RouteQuery {
  readonly model: string;
  readonly capability: Capability;
  readonly prefix: string | readonly ChatMessage[];
  readonly sessionKey?: string;
  /** Batch work goes only to the batch lane's spare slots; interactive requests keep clear of batch work. */
  readonly kind?: RequestKind;
}

const laneGauge = new Gauge({ name: 'maas_gateway_lane_workers', help: 'Ready workers per model by lane (interactive, batch, shared when too few to keep apart), as this gateway assigns them', labelNames: ['model', 'lane'] });

/**
 * Picks a worker in-process with @maas/routing over the registry replica, adding what only this
 * gateway knows: its own unfinished requests per worker (interactive and batch apart), workers whose
 * connection just failed, and which workers are kept for interactive traffic (see `assignLanes`).
 */
@Injectable()
export class RoutingService {
  private readonly policy: RoutingPolicy;
  private readonly usesPrefix: boolean;
  private readonly outstanding = new Map<string, number>();
  private readonly batchOutstanding = new Map<string, number>();
  /** Batch slots held by admitted requests (request id → model) until they are sent to a worker. */
  private readonly batchHolds = new Map<string, string>();
  private readonly heldPerModel = new Map<string, number>();
  private readonly failedUntil = new Map<string, number>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly registry: WorkerRegistryService,
  ) {
    this.policy = buildRoutingPolicy(routingPresets[config.GATEWAY_ROUTING]);
    this.usesPrefix = this.policy.config.scorers.some((s) => s.name === 'prefix-affinity' && s.weight > 0);
  }

  get preset(): string {
    return this.config.GATEWAY_ROUTING;
  }

  /** Routes among the model's workers, leaving out `exclude` (workers this request already failed on). */
  route(query: RouteQuery, exclude: ReadonlySet<string>): RoutingDecision | undefined {
    const now = this.clock.now();
    let endpoints: Endpoint[] = [];
    let excluded = 0;
    for (const w of this.registry.workersFor(query.model)) {
      if (exclude.has(w.id)) {
        excluded++;
        continue;
      }
      const base = w.endpoints.get(query.model)!;
      const outstanding = this.outstanding.get(w.id) ?? 0;
      const failed = this.failedUntil.get(w.id);
      endpoints.push(outstanding > 0 || failed !== undefined ? { ...base, outstanding, failedUntil: failed } : base);
    }
    if (endpoints.length === 0 && excluded > 0) return undefined;
    if (query.kind === 'batch') {
      // The executor admitted it against the batch lane's spare slots: go where they are.
      const lanes = this.lanes(query.model);
      const slots = this.batchSlots(query.model, lanes);
      const spare = endpoints.filter((e) => (slots.get(e.id) ?? 0) > 0);
      const inLane = endpoints.filter((e) => lanes.batch.has(e.id));
      endpoints = spare.length > 0 ? spare : inLane.length > 0 ? inLane : endpoints;
    } else if (this.batchOutstanding.size > 0) {
      const ready = endpoints.filter((e) => e.state === 'ready');
      const clear = new Set(interactiveCandidates(ready.map((e) => this.laneView(e))).map((w) => w.id));
      if (clear.size < ready.length) endpoints = endpoints.filter((e) => clear.has(e.id) || e.state !== 'ready');
    }
    const decision = this.policy.pipeline.route(
      {
        model: query.model,
        capability: query.capability,
        arrivedAt: now,
        prefixBlocks: this.usesPrefix ? promptBlocks(query.prefix, { model: query.model }) : [],
        sessionKey: query.sessionKey,
      },
      endpoints,
    );
    return decision;
  }

  /** The model's ready workers split into lanes, from this gateway's own requests on them. */
  lanes(model: string): Lanes {
    const workers: LaneWorker[] = [];
    for (const w of this.registry.workersFor(model)) {
      const e = w.endpoints.get(model);
      if (e) workers.push(this.laneView({ ...e, outstanding: this.outstanding.get(w.id) ?? 0 }));
    }
    const lanes = assignLanes(workers, this.config.GATEWAY_INTERACTIVE_LANE);
    if (lanes.separate) {
      laneGauge.set({ model, lane: 'interactive' }, lanes.interactive.size);
      laneGauge.set({ model, lane: 'batch' }, lanes.batch.size);
      laneGauge.set({ model, lane: 'shared' }, 0);
    } else {
      laneGauge.set({ model, lane: 'interactive' }, 0);
      laneGauge.set({ model, lane: 'batch' }, 0);
      laneGauge.set({ model, lane: 'shared' }, lanes.batch.size);
    }
    return lanes;
  }

  /**
   * Batch slots free per worker of the batch lane: the spare capacity `spareBatchSlots` leaves, and none
   * on a worker of a separate batch lane while interactive requests overflowed onto it.
   */
  batchSlots(model: string, lanes: Lanes = this.lanes(model)): ReadonlyMap<string, number> {
    const best = bestConcurrencyFor(this.config.GATEWAY_BATCH_CONCURRENCY, model);
    const out = new Map<string, number>();
    for (const w of this.registry.workersFor(model)) {
      const e = w.endpoints.get(model);
      if (!e || !lanes.batch.has(w.id)) continue;
      const outstanding = this.outstanding.get(w.id) ?? 0;
      if (lanes.separate && outstanding > (this.batchOutstanding.get(w.id) ?? 0)) continue;
      const slots = spareBatchSlots({ ...e, outstanding }, this.config.GATEWAY_BATCH_RESERVE, best);
      if (slots > 0) out.set(w.id, slots);
    }
    return out;
  }

  /** A request went to the worker: counted until `finished` (a batch request's held slot is now counted there). */
  started(workerId: string, kind: RequestKind = 'interactive', requestId?: string): void {
    this.outstanding.set(workerId, (this.outstanding.get(workerId) ?? 0) + 1);
    if (kind === 'batch') {
      this.batchOutstanding.set(workerId, (this.batchOutstanding.get(workerId) ?? 0) + 1);
      if (requestId !== undefined) this.releaseBatchSlot(requestId);
    }
  }

  /** An admitted batch request holds one of the model's batch slots until it is sent (or gives up). */
  holdBatchSlot(requestId: string, model: string): void {
    if (this.batchHolds.has(requestId)) return;
    this.batchHolds.set(requestId, model);
    this.heldPerModel.set(model, (this.heldPerModel.get(model) ?? 0) + 1);
  }

  releaseBatchSlot(requestId: string): void {
    const model = this.batchHolds.get(requestId);
    if (model === undefined) return;
    this.batchHolds.delete(requestId);
    decrement(this.heldPerModel, model);
  }

  heldBatchSlots(model: string): number {
    return this.heldPerModel.get(model) ?? 0;
  }

  finished(workerId: string, kind: RequestKind = 'interactive'): void {
    decrement(this.outstanding, workerId);
    if (kind === 'batch') decrement(this.batchOutstanding, workerId);
  }

  /** Connecting to the worker failed: routing avoids it for a while. */
  markFailed(workerId: string): void {
    this.failedUntil.set(workerId, this.clock.now() + this.config.GATEWAY_WORKER_FAILURE_BACKOFF);
    if (this.failedUntil.size > 1000) {
      const now = this.clock.now();
      for (const [id, until] of this.failedUntil) if (until < now) this.failedUntil.delete(id);
    }
  }

  /** The worker answered: forget an earlier failure. */
  succeeded(workerId: string): void {
    if (this.failedUntil.size > 0) this.failedUntil.delete(workerId);
  }

  private laneView(e: Endpoint): LaneWorker {
    const batch = this.batchOutstanding.get(e.id) ?? 0;
    return { id: e.id, state: e.state, capacity: e.capacity, running: e.running, waiting: e.waiting, outstanding: e.outstanding, batch, interactive: Math.max(0, e.outstanding - batch) };
  }
}

function decrement(counts: Map<string, number>, id: string): void {
  const n = (counts.get(id) ?? 1) - 1;
  if (n > 0) counts.set(id, n);
  else counts.delete(id);
}
