import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { MappedProfile } from '../policy/attribute-mapping';
import { UserEntity } from './user.entity';

/** The e-mail address already belongs to another account (another eppn). */
export class AccountConflictError extends Error {}

@Injectable()
export class UserRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private get repo() {
    return this.db.getRepository(UserEntity);
  }

  /** Creates or refreshes the account from the IdP's latest attributes (no IdP: a one-time link). */
  async upsertFromLogin(profile: MappedProfile, idpEntityId: string | null, at: Date): Promise<UserEntity> {
    try {
      await this.db.query(
        `INSERT INTO users (user_id, email, display_name, eppn, roles, affiliations, idp_entity_id, created_at, last_login_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, eppn = EXCLUDED.eppn,
           roles = EXCLUDED.roles, affiliations = EXCLUDED.affiliations, idp_entity_id = EXCLUDED.idp_entity_id, last_login_at = EXCLUDED.last_login_at
         RETURNING user_id`,
        [profile.userId, profile.email, profile.displayName, profile.eppn, JSON.stringify(profile.roles), JSON.stringify(profile.affiliations), idpEntityId, at],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505' || (err as { driverError?: { code?: string } }).driverError?.code === '23505') throw new AccountConflictError(`${profile.email} is already the address of another account`);
      throw err;
    }
    return (await this.byId(profile.userId))!;
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
}
