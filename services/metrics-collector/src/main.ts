import { main } from '@maas/platform';
import { METRICS_COLLECTOR, MetricsCollectorModule } from './metrics-collector.module';

main(METRICS_COLLECTOR, MetricsCollectorModule);
