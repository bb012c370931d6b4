import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { MappedProfile } from '../policy/attribute-mapping';
import { UserEntity } from './user.entity';

/** The e-mail address already belongs to another account (another eppn). */
export class AccountConflictError extends Error {}

/** The account exists but signs in through another identity; an administrator must link this one to it. */
export class IdentityNotLinkedError extends Error {}

/** An account's profile as the latest sign-in states it (a one-time link states no identity). */
export interface AccountProfile {
  userId: string;
  email: string;
  eppn: string | null;
  displayName: string | null;
  affiliations: string[];
  roles: string[];
}

const isUniqueViolation = (err: unknown) =>
  (err as { code?: string }).code === '23505' || (err as { driverError?: { code?: string } }).driverError?.code === '23505';

@Injectable()
export class UserRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private get repo() {
    return this.db.getRepository(UserEntity);
  }

  /** Creates or refreshes an account from a one-time sign-in link (no IdP, so no identity is recorded). */
  async upsertFromLogin(profile: AccountProfile, idpEntityId: string | null, at: Date): Promise<UserEntity> {
    try {
      await this.db.query(
        `INSERT INTO users (user_id, email, display_name, eppn, roles, affiliations, idp_entity_id, created_at, last_login_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, eppn = EXCLUDED.eppn,
           roles = EXCLUDED.roles, affiliations = EXCLUDED.affiliations, last_login_at = EXCLUDED.last_login_at
         RETURNING user_id`,
        [
          profile.userId,
          profile.email,
          profile.displayName,
          profile.eppn,
          JSON.stringify(profile.roles),
          JSON.stringify(profile.affiliations),
          idpEntityId,
          at,
        ],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new AccountConflictError(`${profile.email} is already the address of another account`);
      throw err;
    }
    return (await this.byId(profile.userId))!;
  }

  /**
   * The account of (IdP, subject), refreshed from the latest attributes; a first sign-in makes it. An
   * account that already exists under this id or e-mail address but signs in through another identity
   * is not taken over (IdentityNotLinkedError) — except one no IdP has ever signed in to (made by a
   * one-time link), which its id's owner claims.
   */
  async signIn(profile: MappedProfile, idpEntityId: string, at: Date): Promise<UserEntity> {
    const userId = await this.db
      .transaction(async (tx) => {
        const bound = (await tx.query('SELECT user_id FROM user_identities WHERE idp_entity_id = $1 AND subject = $2', [
          idpEntityId,
          profile.subject,
        ])) as { user_id: string }[];
        let userId = bound[0]?.user_id;
        if (!userId) {
          const existing = (await tx.query(
            `SELECT u.user_id, u.email, array_remove(array_agg(i.idp_entity_id), NULL) AS idps
             FROM users u LEFT JOIN user_identities i ON i.user_id = u.user_id
            WHERE u.user_id = $1 OR u.email = $2 GROUP BY u.user_id, u.email`,
            [profile.userId, profile.email],
          )) as { user_id: string; email: string; idps: string[] }[];
          const linked = existing.find((u) => u.idps.length > 0);
          if (linked) {
            throw new IdentityNotLinkedError(
              `account ${linked.user_id} signs in through ${[...new Set(linked.idps)].join(', ')}; ${idpEntityId} ${profile.subject} is not linked to it`,
            );
          }
          const claimable = existing.find((u) => u.user_id === profile.userId);
          if (!claimable && existing.length)
            throw new AccountConflictError(`${profile.email} is already the address of account ${existing[0].user_id}`);
          if (!claimable) {
            await tx.query(
              `INSERT INTO users (user_id, email, display_name, eppn, roles, affiliations, idp_entity_id, created_at, last_login_at)
             VALUES ($1, $2, $3, $4, '[]', '[]', $5, $6, $6)`,
              [profile.userId, profile.email, profile.displayName, profile.eppn, idpEntityId, at],
            );
          }
          await tx.query('INSERT INTO user_identities (idp_entity_id, subject, user_id, created_at) VALUES ($1, $2, $3, $4)', [
            idpEntityId,
            profile.subject,
            profile.userId,
            at,
          ]);
          userId = profile.userId;
        }
        await tx.query(
          `UPDATE users SET email = $2, display_name = $3, eppn = $4, roles = $5, affiliations = $6, idp_entity_id = $7, last_login_at = $8 WHERE user_id = $1`,
          [
            userId,
            profile.email,
            profile.displayName,
            profile.eppn,
            JSON.stringify(profile.roles),
            JSON.stringify(profile.affiliations),
            idpEntityId,
            at,
          ],
        );
        return userId;
      })
      .catch((err: unknown) => {
        if (isUniqueViolation(err)) throw new AccountConflictError(`${profile.email} is already the address of another account`);
        throw err;
      });
    return (await this.byId(userId))!;
  }

  /** Lets (IdP, subject) sign in to this account (an administrator's decision); an identity linked elsewhere moves here. */
  async link(userId: string, idpEntityId: string, subject: string, by: string, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO user_identities (idp_entity_id, subject, user_id, created_at, linked_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (idp_entity_id, subject) DO UPDATE SET user_id = EXCLUDED.user_id, linked_by = EXCLUDED.linked_by, created_at = EXCLUDED.created_at`,
      [idpEntityId, subject.trim().toLowerCase(), userId, at, by],
    );
  }

  byId(userId: string): Promise<UserEntity | null> {
    return this.repo.findOneBy({ userId });
  }

  /** By account id, e-mail address or eppn. */
  async find(idOrEmail: string): Promise<UserEntity | null> {
    const v = idOrEmail.trim().toLowerCase();
    return this.repo.createQueryBuilder('u').where('u.user_id = :v OR u.email = :v OR u.eppn = :v', { v }).getOne();
  }

  list(limit = 500): Promise<UserEntity[]> {
    return this.repo.find({ order: { lastLoginAt: { direction: 'DESC', nulls: 'LAST' } }, take: limit });
  }

  async setDisabled(userId: string, at: Date | null): Promise<UserEntity | null> {
    await this.repo.update({ userId }, { disabledAt: at });
    return this.byId(userId);
  }

  /** Accounts disabled now, with when; with `since`, only those disabled after it. */
  async disabled(since?: Date): Promise<{ email: string; disabledAt: Date }[]> {
    const q = this.repo.createQueryBuilder('u').select(['u.email', 'u.disabledAt']).where('u.disabled_at IS NOT NULL');
    if (since) q.andWhere('u.disabled_at > :since', { since });
    const rows = await q.orderBy('u.disabled_at', 'ASC').getMany();
    return rows.map((u) => ({ email: u.email, disabledAt: u.disabledAt! }));
  }
}
