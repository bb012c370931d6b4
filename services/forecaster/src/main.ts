// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry/preload';
import { main } from '@maas/platform';
import { FORECASTER, ForecasterModule } from './forecaster.module';

main(FORECASTER, ForecasterModule);
