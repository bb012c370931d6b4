import { Inject, Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { Capability } from '@maas/contracts';
import {
  BatchLaneSpec,
  batchLaneFilter,
  batchPoolFilter,
  batchSlots,
  buildRoutingPolicy,
  ChatMessage,
  Endpoint,
  interactiveLaneFilter,
  Lanes,
  lanesOf,
  promptBlocks,
  RequestKind,
  RoutingDecision,
  RoutingPipeline,
  RoutingPolicy,
  routingPresets,
} from '@maas/routing';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { WorkerRegistryService } from './worker-registry.service';

export type { RequestKind };

export interface RouteQuery {
  readonly model: string;
  readonly capability: Capability;
  readonly prefix: string | readonly ChatMessage[];
  readonly sessionKey?: string;
  /** Batch work goes only to the batch lane's spare slots; interactive requests keep clear of batch work. */
  readonly kind?: RequestKind;
}

const laneGauge = new Gauge({
  name: 'maas_gateway_lane_workers',
  help: 'Ready workers per model by lane (interactive, batch, shared when too few to keep apart), as this gateway assigns them',
  labelNames: ['model', 'lane'],
});

/**
 * Picks a worker in-process with @maas/routing over the registry replica, adding what only this
 * gateway knows: its own unfinished requests per worker (interactive and batch apart), workers whose
 * connection just failed, and which workers are kept for interactive traffic (the lane filters of
 * @maas/routing, run ahead of the preset's own).
 */
@Injectable()
export class RoutingService {
  private readonly policy: RoutingPolicy;
  private readonly pipeline: RoutingPipeline;
  private readonly lanesSpec: BatchLaneSpec;
  private readonly usesPrefix: boolean;
  private readonly outstanding = new Map<string, number>();
  /**
   * `outstanding` when each worker's last heartbeat was applied (absent: 0), so routing reads a worker's load now:
   * the heartbeat's requests beyond ours as heard, ours as they are (see `outstandingAtHeartbeat` in @maas/routing).
   */
  private readonly atHeartbeat = new Map<string, number>();
  private readonly batchOutstanding = new Map<string, number>();
  /** Batch slots held by admitted requests (request id → model) until they are sent to a worker. */
  private readonly batchHolds = new Map<string, string>();
  private readonly heldPerModel = new Map<string, number>();
  private readonly failedUntil = new Map<string, number>();
  /** Model → worker → batch requests allowed there now, set by the adaptive batch control (none under static control). */
  private readonly batchLimits = new Map<string, ReadonlyMap<string, number>>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly registry: WorkerRegistryService,
  ) {
    this.policy = buildRoutingPolicy(routingPresets[config.GATEWAY_ROUTING]);
    const adaptive = config.GATEWAY_BATCH_CONTROL === 'adaptive';
    this.lanesSpec = {
      minInteractive: config.GATEWAY_INTERACTIVE_LANE ?? (adaptive ? 0 : 1),
      reserve: config.GATEWAY_BATCH_RESERVE,
      concurrency: config.GATEWAY_BATCH_CONCURRENCY,
      ...(adaptive ? { batchLimit: (model: string, workerId: string) => this.batchLimits.get(model)?.get(workerId) } : {}),
      batchPool: (workerId: string) => this.registry.worker(workerId)?.registration.pool === 'batch',
    };
    registry.onHeartbeat((workerId) => {
      const n = this.outstanding.get(workerId);
      if (n) this.atHeartbeat.set(workerId, n);
      else this.atHeartbeat.delete(workerId);
    });
    const parts = this.policy.pipeline.parts;
    this.pipeline = new RoutingPipeline({
      ...parts,
      filters: [batchLaneFilter(this.lanesSpec), batchPoolFilter(this.lanesSpec), interactiveLaneFilter, ...parts.filters],
    });
    this.usesPrefix = this.policy.config.scorers.some((s) => s.name === 'prefix-affinity' && s.weight > 0);
  }

  get preset(): string {
    return this.config.GATEWAY_ROUTING;
  }

  /** Routes among the model's workers, leaving out `exclude` (workers this request already failed on). */
  route(query: RouteQuery, exclude: ReadonlySet<string>): RoutingDecision | undefined {
    const now = this.clock.now();
    const endpoints: Endpoint[] = [];
    let excluded = 0;
    for (const w of this.registry.workersFor(query.model)) {
      if (exclude.has(w.id)) {
        excluded++;
        continue;
      }
      endpoints.push(this.endpoint(w.endpoints.get(query.model)!));
    }
    if (endpoints.length === 0 && excluded > 0) return undefined;
    return this.pipeline.route(
      {
        model: query.model,
        capability: query.capability,
        arrivedAt: now,
        prefixBlocks: this.usesPrefix ? promptBlocks(query.prefix, { model: query.model }) : [],
        sessionKey: query.sessionKey,
        kind: query.kind,
      },
      endpoints,
    );
  }

  /**
   * The registry's view of a worker plus this gateway's own requests there, as they are now and as they were at its
   * last heartbeat, and its failure mark. With none of ours then or now the heartbeat alone says the same.
   */
  private endpoint(base: Endpoint): Endpoint {
    const outstanding = this.outstanding.get(base.id) ?? 0;
    const failed = this.failedUntil.get(base.id);
    const atHeartbeat = this.atHeartbeat.get(base.id) ?? 0;
    if (outstanding === 0 && atHeartbeat === 0 && failed === undefined) return base;
    const batch = this.batchOutstanding.get(base.id);
    return {
      ...base,
      outstanding,
      outstandingAtHeartbeat: atHeartbeat,
      failedUntil: failed,
      ...(batch ? { batchOutstanding: batch } : {}),
    };
  }

  private endpointsOf(model: string): Endpoint[] {
    const out: Endpoint[] = [];
    for (const w of this.registry.workersFor(model)) {
      const e = w.endpoints.get(model);
      if (e) out.push(this.endpoint(e));
    }
    return out;
  }

  /** The model's ready workers split into lanes, from this gateway's own requests on them. */
  lanes(model: string): Lanes {
    const lanes = lanesOf(this.endpointsOf(model), this.lanesSpec);
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

  /** Batch slots free per worker of the model's batch lane (see `batchSlots` in @maas/routing). */
  batchSlots(model: string): ReadonlyMap<string, number> {
    return batchSlots(model, this.endpointsOf(model), this.lanesSpec, this.lanes(model));
  }

  /** The batch requests each worker of the model may have from this gateway now (the adaptive batch control's limits). */
  setBatchLimits(model: string, limits: ReadonlyMap<string, number>): void {
    if (limits.size === 0) this.batchLimits.delete(model);
    else this.batchLimits.set(model, limits);
  }

  /** Batch requests this gateway has running on the worker. */
  batchInFlight(workerId: string): number {
    return this.batchOutstanding.get(workerId) ?? 0;
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
}

function decrement(counts: Map<string, number>, id: string): void {
  const n = (counts.get(id) ?? 1) - 1;
  if (n > 0) counts.set(id, n);
  else counts.delete(id);
}
