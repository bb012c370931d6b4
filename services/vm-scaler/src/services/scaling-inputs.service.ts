import { Inject, Injectable } from '@nestjs/common';
import type { ForecastPublished, MetricAggregated, ModelDemandPending } from '@maas/contracts';
import { Clock, CLOCK } from '@maas/platform';

/** A gateway that has not re-reported its held requests for this long (it reports every second) is gone: they no longer count. */
export const PENDING_STALE_MS = 5000;

/** The latest observation and forecast per model, and the requests gateways hold: what the next scaling decision is made from. */
@Injectable()
export class ScalingInputsService {
  private readonly observations = new Map<string, MetricAggregated>();
  private readonly forecasts = new Map<string, ForecastPublished>();
  private readonly pendingByGateway = new Map<string, { receivedAt: number; held: Map<string, number> }>();
  private readonly demandListeners = new Set<(model: string) => void>();

  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  /** A gateway's held requests (replacing its last report); a model newly held for is announced to the listeners at once. */
  pendingReported(r: ModelDemandPending): void {
    const now = this.clock.now();
    const fresh = r.models.filter((m) => m.held > 0 && this.pending(m.model, now) === 0).map((m) => m.model);
    this.pendingByGateway.set(r.gatewayId, { receivedAt: now, held: new Map(r.models.map((m) => [m.model, m.held])) });
    if (r.models.length === 0) this.pendingByGateway.delete(r.gatewayId);
    for (const model of fresh) for (const listener of this.demandListeners) listener(model);
  }

  /** Requests held for `model` by the gateways that reported lately. */
  pending(model: string, now = this.clock.now()): number {
    let held = 0;
    for (const [gateway, report] of this.pendingByGateway) {
      if (now - report.receivedAt > PENDING_STALE_MS) this.pendingByGateway.delete(gateway);
      else held += report.held.get(model) ?? 0;
    }
    return held;
  }

  /** Called with a model when gateways start holding requests for it (none were held before). */
  onPendingDemand(listener: (model: string) => void): () => void {
    this.demandListeners.add(listener);
    return () => this.demandListeners.delete(listener);
  }

  observe(m: MetricAggregated): void {
    const previous = this.observations.get(m.model);
    // late or redelivered intervals never replace a newer one
    if (!previous || Date.parse(previous.intervalStart) <= Date.parse(m.intervalStart)) this.observations.set(m.model, m);
  }

  forecast(f: ForecastPublished): void {
    const previous = this.forecasts.get(f.model);
    if (!previous || Date.parse(previous.issuedAt) <= Date.parse(f.issuedAt)) this.forecasts.set(f.model, f);
  }

  latest(model: string): { observation?: MetricAggregated; forecast?: ForecastPublished } {
    return { observation: this.observations.get(model), forecast: this.forecasts.get(model) };
  }

  aggregates(): MetricAggregated[] {
    return [...this.observations.values()];
  }

  latestForecasts(): ForecastPublished[] {
    return [...this.forecasts.values()];
  }
}
