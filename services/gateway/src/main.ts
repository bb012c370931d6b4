// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry';
import { main } from '@maas/platform';
import { mountDataPlane } from './controllers/mount-data-plane';
import { GATEWAY, GatewayModule } from './gateway.module';

main(GATEWAY, GatewayModule, mountDataPlane);
