import { Module } from '@nestjs/common';
import { PlatformModule, ServiceDefinition } from '@maas/platform';
import { MetricHandler } from './handlers/metric.handler';
import { ForecastEventsRepository } from './repositories/forecast-events.repository';
import { DemandHistoryService } from './services/demand-history.service';
import { FORECASTER_CONFIG, loadForecasterConfig } from './forecaster.config';

export const FORECASTER: ServiceDefinition = {
  name: 'forecaster',
  description: 'Per-model demand forecasts over the VM boot horizon',
};

@Module({
  imports: [PlatformModule.forService(FORECASTER)],
  controllers: [MetricHandler],
  providers: [{ provide: FORECASTER_CONFIG, useFactory: loadForecasterConfig }, ForecastEventsRepository, DemandHistoryService],
})
export class ForecasterModule {}
