import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { NatsConnection } from 'nats';
import { DataSource } from 'typeorm';
import { BusLink } from './bus-link';
import { NATS_CONNECTION } from './service-definition';

/**
 * `/health`: NATS (a round trip to the server) and, for services with state, PostgreSQL. With the
 * bus down, a service that declared it can serve without it (`BusLink.serveWithoutBus`) answers
 * 200 with `nats.degraded` saying so; any other answers 503, as it cannot do its job.
 */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly typeorm: TypeOrmHealthIndicator,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly link: BusLink,
    @Optional() private readonly dataSource?: DataSource,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    const checks = [() => this.natsCheck()];
    if (this.dataSource) checks.push(() => this.typeorm.pingCheck('database', { timeout: 1500 }) as never);
    return this.health.check(checks);
  }

  private async natsCheck() {
    const session = this.indicators.check('nats');
    let message = 'connection closed';
    if (!this.nc.isClosed()) {
      try {
        const started = process.hrtime.bigint();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          this.nc.flush(),
          new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 1 s')), 1000))),
        ]).finally(() => clearTimeout(timer));
        return session.up({ server: this.nc.getServer(), rttMs: Number(process.hrtime.bigint() - started) / 1e6 });
      } catch (err) {
        message = (err as Error).message;
      }
    }
    const link = this.link.state;
    const outage = { message, connected: false, ...(link.connected ? {} : { downSince: new Date(link.since).toISOString() }) };
    const without = this.link.assessWithoutBus();
    if (without?.serving) return session.up({ ...outage, degraded: 'bus down, serving', ...without.detail });
    return session.down({ ...outage, ...(without ? { cannotServe: 'bus down', ...without.detail } : {}) });
  }
}
