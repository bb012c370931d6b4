import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { ForecastPublished, MetricAggregated } from '@maas/contracts';
import { DemandForecaster, ForecastSpec, resolveForecastSpec } from '@maas/forecast';
import { Logger } from '@maas/logging';
import { StepAccumulator } from '../policy/step-accumulator';
import { ForecastEventsRepository } from '../repositories/forecast-events.repository';
import { FORECASTER_CONFIG, ForecasterConfig } from '../forecaster.config';

const observed = new Gauge({
  name: 'maas_forecaster_observed_request_rate',
  help: 'Last completed step of observed demand per model (req/s)',
  labelNames: ['model'],
});
const predicted = new Gauge({
  name: 'maas_forecast_request_rate',
  help: 'Forecast demand at the horizon (req/s)',
  labelNames: ['model', 'quantile'],
});
const smape = new Gauge({
  name: 'maas_forecast_backtest_smape_percent',
  help: 'Own rolling-origin backtest sMAPE per horizon',
  labelNames: ['model', 'horizon_steps'],
});
const coverage = new Gauge({
  name: 'maas_forecast_backtest_upper_coverage',
  help: 'Share of actuals at or below the upper quantile per horizon',
  labelNames: ['model', 'horizon_steps'],
});

interface ModelState {
  steps: StepAccumulator;
  forecaster: DemandForecaster;
}

/** Per-model demand history, forecast every step and published for vm-scaler. */
@Injectable()
export class DemandHistoryService {
  private readonly models = new Map<string, ModelState>();
  private readonly spec: ForecastSpec;
  private readonly stepSeconds: number;

  constructor(
    @Inject(FORECASTER_CONFIG) config: ForecasterConfig,
    private readonly forecasts: ForecastEventsRepository,
    private readonly logger: Logger,
  ) {
    this.stepSeconds = config.FORECAST_STEP_MS / 1000;
    const horizonSteps = Math.max(1, Math.ceil(config.FORECAST_HORIZON_MS / config.FORECAST_STEP_MS));
    const check = resolveForecastSpec({ horizonSteps, decisionHorizonSteps: horizonSteps, upperQuantile: config.FORECAST_UPPER_QUANTILE });
    if (!check.ok) throw new Error(`forecast spec: ${check.error}`);
    this.spec = check.spec;
  }

  observe(m: MetricAggregated): void {
    let state = this.models.get(m.model);
    if (!state) {
      state = { steps: new StepAccumulator(this.stepSeconds), forecaster: new DemandForecaster(this.spec, this.stepSeconds) };
      this.models.set(m.model, state);
    }
    const at = Date.parse(m.intervalStart) / 1000;
    for (const step of state.steps.add(at, m.intervalSeconds, m.requestRate)) {
      state.forecaster.observe(step.end, step.value);
      if (step.value !== null) observed.set({ model: m.model }, step.value);
      this.publish(m.model, state.forecaster, step.end);
    }
  }

  private publish(model: string, forecaster: DemandForecaster, nowSeconds: number): void {
    const f = forecaster.forecast(nowSeconds);
    if (!f.valid) {
      this.logger.debug('no forecast', { model, reason: f.reason });
      return;
    }
    const last = f.points[f.points.length - 1];
    predicted.set({ model, quantile: '0.5' }, last.value);
    predicted.set({ model, quantile: String(this.spec.upperQuantile) }, last.upper);
    for (const h of f.backtest.horizons) {
      smape.set({ model, horizon_steps: String(h.h) }, h.smape);
      coverage.set({ model, horizon_steps: String(h.h) }, h.coverage);
    }
    const decision = f.backtest.horizons.find((h) => h.h === f.decisionHorizonSteps);
    const message: ForecastPublished = {
      forecastId: randomUUID(),
      model,
      issuedAt: new Date(nowSeconds * 1000).toISOString(),
      stepSeconds: f.stepSeconds,
      method: f.model,
      fallbackReason: f.fallbackReason ?? null,
      backtestSmape: decision ? decision.smape : null,
      points: f.points.map((p) => ({
        at: new Date(p.t * 1000).toISOString(),
        requestRate: Math.max(0, p.value),
        upper: Math.max(0, p.upper),
      })),
    };
    this.forecasts.published(message);
  }
}
