import { main } from '@maas/platform';
import { mountDataPlane } from './controllers/mount-data-plane';
import { GATEWAY, GatewayModule } from './gateway.module';

main(GATEWAY, GatewayModule, mountDataPlane);
