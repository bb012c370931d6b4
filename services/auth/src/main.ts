import { main } from '@maas/platform';
import { AUTH, AuthModule } from './auth.module';

main(AUTH, AuthModule);
