import { main } from '@maas/platform';
import { FORECASTER, ForecasterModule } from './forecaster.module';

main(FORECASTER, ForecasterModule);
