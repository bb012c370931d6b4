import { Inject, Injectable } from '@nestjs/common';
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
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { WorkerRegistryService } from './worker-registry.service';

export interface RouteQuery {
  readonly model: string;
  readonly capability: Capability;
  readonly prefix: string | readonly ChatMessage[];
  readonly sessionKey?: string;
}

/**
 * Picks a worker in-process with @maas/routing over the registry replica, adding what only this
 * gateway knows: its own unfinished requests per worker, and workers whose connection just failed.
 */
@Injectable()
export class RoutingService {
  private readonly policy: RoutingPolicy;
  private readonly usesPrefix: boolean;
  private readonly outstanding = new Map<string, number>();
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
    const endpoints: Endpoint[] = [];
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

  /** A request went to the worker: counted until `finished`. */
  started(workerId: string): void {
    this.outstanding.set(workerId, (this.outstanding.get(workerId) ?? 0) + 1);
  }

  finished(workerId: string): void {
    const n = (this.outstanding.get(workerId) ?? 1) - 1;
    if (n > 0) this.outstanding.set(workerId, n);
    else this.outstanding.delete(workerId);
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

  outstandingOf(workerId: string): number {
    return this.outstanding.get(workerId) ?? 0;
  }
}
