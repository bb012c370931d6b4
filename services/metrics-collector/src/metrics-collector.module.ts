import { Module } from '@nestjs/common';
import { CLOCK, PlatformModule, ServiceDefinition, systemClock } from '@maas/platform';
import { UsageHandler } from './handlers/usage.handler';
import { UsageRecords1732500000000 } from './migrations/1732500000000-usage-records';
import { MetricSamples1732600000000 } from './migrations/1732600000000-metric-samples';
import { UsageDeadLetters1733500000000 } from './migrations/1733500000000-usage-dead-letters';
import { UsageClientRequestId1733600000000 } from './migrations/1733600000000-usage-client-request-id';
import { MetricEventsRepository } from './repositories/metric-events.repository';
import { MetricSampleRepository } from './repositories/metric-sample.repository';
import { DemandSeriesService } from './services/demand-series.service';
import { loadMetricsCollectorConfig, METRICS_COLLECTOR_CONFIG } from './metrics-collector.config';
import { UsageRecordEntity } from './repositories/usage-record.entity';
import { UsageRecordRepository } from './repositories/usage-record.repository';
import { UsageDeadLetterRepository } from './repositories/usage-dead-letter.repository';
import { UsageIntakeService } from './services/usage-intake.service';
import { UsageLedgerService } from './services/usage-ledger.service';

export const METRICS_COLLECTOR: ServiceDefinition = {
  name: 'metrics-collector',
  description: 'Usage ledger and per-model time series from usage events and worker load reports',
  database: {
    entities: [UsageRecordEntity],
    migrations: [UsageRecords1732500000000, MetricSamples1732600000000, UsageDeadLetters1733500000000, UsageClientRequestId1733600000000],
  },
};

@Module({
  imports: [PlatformModule.forService(METRICS_COLLECTOR)],
  controllers: [UsageHandler],
  providers: [
    { provide: METRICS_COLLECTOR_CONFIG, useFactory: loadMetricsCollectorConfig },
    { provide: CLOCK, useValue: systemClock },
    UsageRecordRepository,
    UsageDeadLetterRepository,
    MetricSampleRepository,
    MetricEventsRepository,
    UsageLedgerService,
    UsageIntakeService,
    DemandSeriesService,
  ],
})
export class MetricsCollectorModule {}
