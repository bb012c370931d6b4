// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry/preload';
import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { main } from '@maas/platform';
import { mountDataPlane } from './controllers/mount-data-plane';
import { GATEWAY, GatewayModule } from './gateway.module';
import { applyConnectionLimits, loadHttpServerConfig } from './http-server';

main(GATEWAY, GatewayModule, (app: INestApplication) => {
  applyConnectionLimits(app.getHttpServer() as Server, loadHttpServerConfig());
  mountDataPlane(app);
});
