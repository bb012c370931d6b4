import { Inject, Injectable } from '@nestjs/common';
import type { UserListRequest, UserSummary, UserUpdateRequest } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { CLOCK, Clock } from '@maas/platform';
import { UserEntity } from '../repositories/user.entity';
import { UserRepository } from '../repositories/user.repository';
import { SessionService } from './session.service';

export class UserNotFoundError extends Error {}

/** Accounts as administrators manage them (portal admin page, `maas users`). */
@Injectable()
export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly sessions: SessionService,
    private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async summary(u: UserEntity): Promise<UserSummary> {
    return {
      userId: u.userId,
      email: u.email,
      displayName: u.displayName,
      eppn: u.eppn,
      roles: u.roles as UserSummary['roles'],
      affiliations: u.affiliations ?? [],
      idpEntityId: u.idpEntityId,
      createdAt: u.createdAt.toISOString(),
      lastLoginAt: u.lastLoginAt?.toISOString() ?? null,
      disabledAt: u.disabledAt?.toISOString() ?? null,
      activeSessions: await this.sessions.activeCount(u.userId),
    };
  }

  async list(req: UserListRequest): Promise<UserSummary[]> {
    const rows = req.user ? [await this.users.find(req.user)].filter((u): u is UserEntity => !!u) : await this.users.list(req.limit ?? 500);
    return Promise.all(rows.map((u) => this.summary(u)));
  }

  async update(req: UserUpdateRequest, by: string): Promise<UserSummary> {
    let user = await this.users.find(req.user);
    if (!user) throw new UserNotFoundError(`no account ${req.user}`);
    if (req.disabled !== undefined) {
      user = (await this.users.setDisabled(user.userId, req.disabled ? new Date(this.clock.now()) : null))!;
      this.logger.info(req.disabled ? 'account disabled' : 'account enabled', { userId: user.userId, by });
    }
    if (req.link) {
      await this.users.link(user.userId, req.link.idpEntityId, req.link.subject, by, new Date(this.clock.now()));
      this.logger.info('identity linked to account', { userId: user.userId, idp: req.link.idpEntityId, subject: req.link.subject, by });
    }
    if (req.disabled || req.endSessions) await this.sessions.endAllOf(user.userId);
    return this.summary(user);
  }
}
