import { DynamicModule, Global, Inject, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { NatsConnection } from 'nats';
import { Subjects } from '@maas/contracts';
import { DEFAULT_DATABASE_URL, loadConfig, PlatformConfig, platformConfigSpec, env } from '@maas/config';
import { dataSourceOptions } from '@maas/database';
import { Logger } from '@maas/logging';
import { connectNats, MessageBus } from '@maas/nats';
import { BusLink } from './bus-link';
import { systemClock } from './clock';
import { HealthController } from './health.controller';
import { collectProcessMetrics, MetricsController } from './metrics.controller';
import { NATS_CONNECTION, PLATFORM_CONFIG, SERVICE_DEFINITION, ServiceDefinition } from './service-definition';

/** Makes sure the JetStream streams exist before anything publishes to or consumes from them; drains last. */
class NatsLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly bus: MessageBus,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.bus.ensureStreams();
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => undefined);
  }
}

/**
 * What every service gets: typed config, the JSON logger, the NATS connection and message bus,
 * `/health` and `/metrics`, and — when it keeps state — its TypeORM data source with migrations run.
 */
@Global()
@Module({})
export class PlatformModule {
  static forService(definition: ServiceDefinition): DynamicModule {
    const config = loadConfig(platformConfigSpec);
    const logger = new Logger(definition.name, config.LOG_LEVEL);
    collectProcessMetrics();
    const imports: DynamicModule['imports'] = [TerminusModule.forRoot({ logger: false })];
    if (definition.database) {
      const { DATABASE_URL } = loadConfig({ DATABASE_URL: env.url(DEFAULT_DATABASE_URL, ['postgres', 'postgresql']) });
      imports.push(
        TypeOrmModule.forRoot({
          ...dataSourceOptions(definition.name, DATABASE_URL, definition.database),
          retryAttempts: 3,
          retryDelay: 1000,
        }),
      );
    }
    return {
      module: PlatformModule,
      imports,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SERVICE_DEFINITION, useValue: definition },
        { provide: PLATFORM_CONFIG, useValue: config },
        { provide: Logger, useValue: logger },
        { provide: Subjects, useValue: new Subjects(config.MAAS_NAMESPACE) },
        {
          provide: NATS_CONNECTION,
          useFactory: () => connectNats(config.NATS_URL, `${definition.name}-${process.pid}`, logger),
        },
        {
          provide: MessageBus,
          inject: [NATS_CONNECTION, Subjects],
          useFactory: (nc: NatsConnection, subjects: Subjects) => new MessageBus(nc, subjects),
        },
        { provide: BusLink, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => new BusLink(nc, systemClock) },
        NatsLifecycle,
      ],
      exports: [SERVICE_DEFINITION, PLATFORM_CONFIG, Logger, Subjects, NATS_CONNECTION, MessageBus, BusLink],
    };
  }
}

export type { PlatformConfig };
