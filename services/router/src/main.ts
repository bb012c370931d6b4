// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry/preload';
import { main } from '@maas/platform';
import { ROUTER, RouterModule } from './router.module';

main(ROUTER, RouterModule);
