import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { NatsConnection } from 'nats';
import { DataSource } from 'typeorm';
import { NATS_CONNECTION } from './service-definition';

/** `/health`: NATS (a round trip to the server) and, for services with state, PostgreSQL. */
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly typeorm: TypeOrmHealthIndicator,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
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
    if (this.nc.isClosed()) return session.down({ message: 'connection closed' });
    try {
      const started = process.hrtime.bigint();
      await Promise.race([this.nc.flush(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 1 s')), 1000))]);
      return session.up({ server: this.nc.getServer(), rttMs: Number(process.hrtime.bigint() - started) / 1e6 });
    } catch (err) {
      return session.down({ message: (err as Error).message });
    }
  }
}
