import { Module } from '@nestjs/common';
import { PlatformModule, ServiceDefinition } from '@maas/platform';
import { UsageHandler } from './handlers/usage.handler';
import { UsageRecords1732500000000 } from './migrations/1732500000000-usage-records';
import { UsageRecordEntity } from './repositories/usage-record.entity';
import { UsageRecordRepository } from './repositories/usage-record.repository';
import { UsageLedgerService } from './services/usage-ledger.service';

export const METRICS_COLLECTOR: ServiceDefinition = {
  name: 'metrics-collector',
  description: 'Usage ledger and per-model time series from usage events and worker load reports',
  database: { entities: [UsageRecordEntity], migrations: [UsageRecords1732500000000] },
};

@Module({
  imports: [PlatformModule.forService(METRICS_COLLECTOR)],
  controllers: [UsageHandler],
  providers: [UsageRecordRepository, UsageLedgerService],
})
export class MetricsCollectorModule {}
