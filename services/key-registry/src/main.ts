import { main } from '@maas/platform';
import { KEY_REGISTRY, KeyRegistryModule } from './key-registry.module';

main(KEY_REGISTRY, KeyRegistryModule);
