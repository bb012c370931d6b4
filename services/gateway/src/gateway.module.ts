import { Module } from '@nestjs/common';
import { PlatformModule, ServiceDefinition } from '@maas/platform';
import { BATCH_DATABASE, BATCH_PROVIDERS } from './batch/batch.module';
import { DataPlaneController } from './controllers/data-plane.controller';
import { GATEWAY_CONFIG, loadGatewayConfig } from './gateway.config';
import { BatchListHandler } from './handlers/batch-list.handler';
import { KeyEventsHandler } from './handlers/key-events.handler';
import { WorkerEventsHandler } from './handlers/worker-events.handler';
import { GATEWAY_CLOCK, gatewayClock } from './repositories/clock';
import { KeyRegistryRepository } from './repositories/key-registry.repository';
import { LedgerRepository } from './repositories/ledger.repository';
import { HttpProxyRepository } from './repositories/http-proxy.repository';
import { RegistryRepository } from './repositories/registry.repository';
import { SessionRepository } from './repositories/session.repository';
import { SharedLimitsRepository } from './repositories/shared-limits.repository';
import { UpstreamRepository } from './repositories/upstream.repository';
import { UsageRepository } from './repositories/usage.repository';
import { BatchControlService } from './services/batch-control.service';
import { DispatchService } from './services/dispatch.service';
import { InferenceService } from './services/inference.service';
import { KeyAuthService } from './services/key-auth.service';
import { KeyLimitsService } from './services/key-limits.service';
import { ModelsService } from './services/models.service';
import { NetworkPolicy } from './services/network-policy';
import { RoutingService } from './services/routing.service';
import { TokenBudgetService } from './services/token-budget.service';
import { UsageService } from './services/usage.service';
import { WebProxyService } from './services/web-proxy.service';
import { WorkerRegistryService } from './services/worker-registry.service';

export const GATEWAY: ServiceDefinition = {
  name: 'gateway',
  description: 'OpenAI-compatible API: keys, routing to model workers, streaming, usage accounting',
  // Batch API metadata and results (the data plane itself keeps no state).
  database: BATCH_DATABASE,
};

@Module({
  imports: [PlatformModule.forService(GATEWAY)],
  controllers: [WorkerEventsHandler, KeyEventsHandler, BatchListHandler],
  providers: [
    { provide: GATEWAY_CONFIG, useFactory: loadGatewayConfig },
    { provide: GATEWAY_CLOCK, useValue: gatewayClock },
    KeyRegistryRepository,
    LedgerRepository,
    TokenBudgetService,
    NetworkPolicy,
    HttpProxyRepository,
    SessionRepository,
    WebProxyService,
    RegistryRepository,
    UpstreamRepository,
    UsageRepository,
    WorkerRegistryService,
    RoutingService,
    BatchControlService,
    KeyAuthService,
    SharedLimitsRepository,
    KeyLimitsService,
    UsageService,
    ModelsService,
    DispatchService,
    InferenceService,
    DataPlaneController,
    ...BATCH_PROVIDERS,
  ],
})
export class GatewayModule {}
