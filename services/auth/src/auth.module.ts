import { Module } from '@nestjs/common';
import { CLOCK, PlatformModule, ServiceDefinition, systemClock } from '@maas/platform';
import { AUTH_CONFIG, loadAuthConfig } from './auth.config';
import { BrowserSessionGuard } from './controllers/browser';
import { PortalController } from './controllers/portal.controller';
import { SamlController } from './controllers/saml.controller';
import { SessionController } from './controllers/session.controller';
import { SignInLinkController } from './controllers/sign-in-link.controller';
import { AccountHandler } from './handlers/account.handler';
import { AuthHandler } from './handlers/auth.handler';
import { Identity1732600000000 } from './migrations/1732600000000-identity';
import { IdpIdentities1733000000000 } from './migrations/1733000000000-idp-identities';
import { Users1732500000000 } from './migrations/1732500000000-users';
import { SessionDigests1733920000000 } from './migrations/1733920000000-session-digests';
import { AccountEventsRepository } from './repositories/account-events.repository';
import { FederationMetadata } from './repositories/federation-metadata.repository';
import { BatchDirectoryRepository, KeyRegistryRepository, WorkerDirectoryRepository } from './repositories/platform-directory.repository';
import { SamlProtocol } from './repositories/saml-protocol.repository';
import { SamlRequestEntity, SeenAssertionEntity } from './repositories/saml-request.entity';
import { SamlStateRepository } from './repositories/saml-state.repository';
import { SessionEntity } from './repositories/session.entity';
import { SessionRepository } from './repositories/session.repository';
import { SignInLinkRepository } from './repositories/sign-in-link.repository';
import { Tokens } from './repositories/tokens';
import { UsageLedgerRepository } from './repositories/usage-ledger.repository';
import { UserEntity } from './repositories/user.entity';
import { UserRepository } from './repositories/user.repository';
import { LogoutService } from './services/logout.service';
import { PortalService } from './services/portal.service';
import { SamlLoginService } from './services/saml-login.service';
import { SessionService } from './services/session.service';
import { SignInLinkService } from './services/sign-in-link.service';
import { UserService } from './services/user.service';

export const AUTH: ServiceDefinition = {
  name: 'auth',
  description: 'SAML 2.0 service provider, user accounts, browser sessions and the user portal',
  database: {
    entities: [UserEntity, SessionEntity, SamlRequestEntity, SeenAssertionEntity],
    migrations: [Users1732500000000, Identity1732600000000, IdpIdentities1733000000000, SessionDigests1733920000000],
  },
};

@Module({
  imports: [PlatformModule.forService(AUTH)],
  controllers: [SamlController, SessionController, SignInLinkController, PortalController, AuthHandler, AccountHandler],
  providers: [
    { provide: AUTH_CONFIG, useFactory: () => loadAuthConfig() },
    { provide: CLOCK, useValue: systemClock },
    Tokens,
    FederationMetadata,
    SamlProtocol,
    SamlStateRepository,
    UserRepository,
    SessionRepository,
    SignInLinkRepository,
    UsageLedgerRepository,
    AccountEventsRepository,
    KeyRegistryRepository,
    WorkerDirectoryRepository,
    BatchDirectoryRepository,
    SessionService,
    SamlLoginService,
    SignInLinkService,
    LogoutService,
    PortalService,
    UserService,
    BrowserSessionGuard,
  ],
})
export class AuthModule {}
