import { Module } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { PlatformModule, ServiceDefinition } from '@maas/platform';
import { AdminKeyController } from './controllers/admin-key.controller';
import { AdminTokenGuard } from './controllers/admin-token.guard';
import { AccountHandler } from './handlers/account.handler';
import { KeyHandler } from './handlers/key.handler';
import { ApiKeys1732500000000 } from './migrations/1732500000000-api-keys';
import { DisabledAccounts1733930000000 } from './migrations/1733930000000-disabled-accounts';
import { KeyDigests1733910000000 } from './migrations/1733910000000-key-digests';
import { ApiKeyEntity } from './repositories/api-key.entity';
import { AccountStatusRepository } from './repositories/account-status.repository';
import { ApiKeyRepository } from './repositories/api-key.repository';
import { AuthAccountsRepository } from './repositories/auth-accounts.repository';
import { KeyEventsRepository } from './repositories/key-events.repository';
import { CLOCK, systemClock } from '@maas/platform';
import { KeyHasher } from './repositories/key-hasher';
import { AccountStatusService } from './services/account-status.service';
import { ACCOUNT_POLL_MS, ApiKeyService } from './services/api-key.service';
import { DEV_KEY_SECRET, KEY_REGISTRY_CONFIG, KeyRegistryConfig, loadKeyRegistryConfig } from './key-registry.config';

export const KEY_REGISTRY: ServiceDefinition = {
  name: 'key-registry',
  description: 'API keys: create, list, revoke, verify (NATS) and an admin HTTP API; hashed with a server secret',
  database: { entities: [ApiKeyEntity], migrations: [ApiKeys1732500000000, KeyDigests1733910000000, DisabledAccounts1733930000000] },
};

@Module({
  imports: [PlatformModule.forService(KEY_REGISTRY)],
  controllers: [KeyHandler, AccountHandler, AdminKeyController],
  providers: [
    { provide: KEY_REGISTRY_CONFIG, useFactory: loadKeyRegistryConfig },
    {
      provide: KeyHasher,
      inject: [Logger, KEY_REGISTRY_CONFIG],
      useFactory: (logger: Logger, { KEY_HASH_SECRET }: KeyRegistryConfig) => {
        if (KEY_HASH_SECRET === DEV_KEY_SECRET) logger.warn('KEY_HASH_SECRET is the development default; set it in production');
        return new KeyHasher(KEY_HASH_SECRET);
      },
    },
    { provide: CLOCK, useValue: systemClock },
    { provide: ACCOUNT_POLL_MS, inject: [KEY_REGISTRY_CONFIG], useFactory: (c: KeyRegistryConfig) => c.KEY_ACCOUNT_POLL },
    ApiKeyRepository,
    AccountStatusRepository,
    AuthAccountsRepository,
    KeyEventsRepository,
    AccountStatusService,
    ApiKeyService,
    AdminTokenGuard,
  ],
})
export class KeyRegistryModule {}
