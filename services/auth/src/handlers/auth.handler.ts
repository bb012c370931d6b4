import { Controller } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import type { SessionVerifyRequest, UserListRequest, UserUpdateRequest } from '@maas/contracts';
import { On } from '@maas/nats';
import { SessionService } from '../services/session.service';
import { UserService } from '../services/user.service';

@Controller()
export class AuthHandler {
  constructor(
    private readonly sessions: SessionService,
    private readonly users: UserService,
  ) {}

  @On('auth.verify-session')
  verifySession(@Payload() msg: SessionVerifyRequest) {
    return this.sessions.verifyDigest(msg.tokenDigest);
  }

  @On('auth.list-users')
  async listUsers(@Payload() msg: UserListRequest) {
    return { users: await this.users.list(msg) };
  }

  @On('auth.update-user')
  async updateUser(@Payload() msg: UserUpdateRequest) {
    return { user: await this.users.update(msg, 'maas users') };
  }
}
