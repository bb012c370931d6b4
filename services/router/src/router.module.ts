import { Module } from '@nestjs/common';
import { PlatformModule, ServiceDefinition } from '@maas/platform';
import { WorkerHandler } from './handlers/worker.handler';
import { Workers1732500000000 } from './migrations/1732500000000-workers';
import { CLOCK, systemClock } from '@maas/platform';
import { WorkerEntity } from './repositories/worker.entity';
import { WorkerEventsRepository } from './repositories/worker-events.repository';
import { WorkerRepository } from './repositories/worker.repository';
import { RegistryService } from './services/registry.service';
import { loadRouterConfig, ROUTER_CONFIG } from './router.config';

export const ROUTER: ServiceDefinition = {
  name: 'router',
  description: 'Registry of model workers: registration, heartbeats, drain, expiry',
  database: { entities: [WorkerEntity], migrations: [Workers1732500000000] },
};

@Module({
  imports: [PlatformModule.forService(ROUTER)],
  controllers: [WorkerHandler],
  providers: [
    { provide: ROUTER_CONFIG, useFactory: loadRouterConfig },
    { provide: CLOCK, useValue: systemClock },
    WorkerRepository,
    WorkerEventsRepository,
    RegistryService,
  ],
})
export class RouterModule {}
