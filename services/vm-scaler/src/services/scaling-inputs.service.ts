import { Injectable } from '@nestjs/common';
import type { ForecastPublished, MetricAggregated } from '@maas/contracts';

/** The latest observation and forecast per model: what the next scaling decision is made from. */
@Injectable()
export class ScalingInputsService {
  private readonly observations = new Map<string, MetricAggregated>();
  private readonly forecasts = new Map<string, ForecastPublished>();

  observe(m: MetricAggregated): void {
    this.observations.set(m.model, m);
  }

  forecast(f: ForecastPublished): void {
    this.forecasts.set(f.model, f);
  }

  latest(model: string): { observation?: MetricAggregated; forecast?: ForecastPublished } {
    return { observation: this.observations.get(model), forecast: this.forecasts.get(model) };
  }
}
