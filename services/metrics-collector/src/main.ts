// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry/preload';
import { main } from '@maas/platform';
import { METRICS_COLLECTOR, MetricsCollectorModule } from './metrics-collector.module';

main(METRICS_COLLECTOR, MetricsCollectorModule);
