import { main } from '@maas/platform';
import { ROUTER, RouterModule } from './router.module';

main(ROUTER, RouterModule);
