import { Module } from '@nestjs/common';
import { PlatformModule, ServiceDefinition } from '@maas/platform';
import { Users1732500000000 } from './migrations/1732500000000-users';
import { UserEntity } from './repositories/user.entity';

export const AUTH: ServiceDefinition = {
  name: 'auth',
  description: 'SAML 2.0 service provider, user accounts and browser sessions',
  database: { entities: [UserEntity], migrations: [Users1732500000000] },
};

@Module({
  imports: [PlatformModule.forService(AUTH)],
})
export class AuthModule {}
