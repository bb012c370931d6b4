// First: when tracing is configured, this patches http and pg before anything else loads them.
import '@maas/telemetry/preload';
import { main } from '@maas/platform';
import { KEY_REGISTRY, KeyRegistryModule } from './key-registry.module';

main(KEY_REGISTRY, KeyRegistryModule);
