import { Inject, Injectable } from '@nestjs/common';
import type { DisabledAccountListReply, UserListRequest, UserSummary, UserUpdateRequest } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { CLOCK, Clock } from '@maas/platform';
import { AccountEventsRepository } from '../repositories/account-events.repository';
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
    private readonly events: AccountEventsRepository,
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
      this.announceStatus(user);
    }
    if (req.link) {
      await this.users.link(user.userId, req.link.idpEntityId, req.link.subject, by, new Date(this.clock.now()));
      this.logger.info('identity linked to account', { userId: user.userId, idp: req.link.idpEntityId, subject: req.link.subject, by });
    }
    if (req.disabled || req.endSessions) await this.sessions.endAllOf(user.userId);
    return this.summary(user);
  }

  /** Accounts disabled now (after `since` when given): what key-registry's view is rebuilt from. */
  async disabledAccounts(since?: Date): Promise<DisabledAccountListReply> {
    const takenAt = new Date(this.clock.now()).toISOString();
    const rows = await this.users.disabled(since);
    return { takenAt, accounts: rows.map((r) => ({ email: r.email, disabledAt: r.disabledAt.toISOString() })) };
  }

  /** Tells key-registry at once; if NATS is away it catches up from disabledAccounts within its poll. */
  private announceStatus(user: UserEntity): void {
    try {
      this.events.statusChanged({
        userId: user.userId,
        email: user.email,
        disabled: user.disabledAt !== null,
        disabledAt: user.disabledAt?.toISOString() ?? null,
        changedAt: new Date(this.clock.now()).toISOString(),
      });
    } catch (err) {
      this.logger.warn('account change not announced; key-registry will find it at its next poll', {
        userId: user.userId,
        err: (err as Error).message,
      });
    }
  }
}
