import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { SessionEntity } from './session.entity';

@Injectable()
export class SessionRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private get repo() {
    return this.db.getRepository(SessionEntity);
  }

  insert(session: SessionEntity): Promise<unknown> {
    return this.repo.insert(session);
  }

  byTokenHash(tokenHash: Buffer): Promise<SessionEntity | null> {
    return this.repo.findOneBy({ tokenHash });
  }

  async touch(tokenHash: Buffer, at: Date): Promise<void> {
    await this.repo.update({ tokenHash }, { lastSeenAt: at });
  }

  async revoke(tokenHash: Buffer, at: Date): Promise<boolean> {
    const result = await this.repo.update({ tokenHash, revokedAt: IsNull() }, { revokedAt: at });
    return (result.affected ?? 0) > 0;
  }

  async revokeForUser(userId: string, at: Date): Promise<number> {
    const result = await this.repo.update({ userId, revokedAt: IsNull() }, { revokedAt: at });
    return result.affected ?? 0;
  }

  /** Sessions an IdP's LogoutRequest names: by NameID value, narrowed to the given SessionIndexes when it sends any. */
  async revokeForIdpSubject(idpEntityId: string, nameId: string, sessionIndexes: string[], at: Date): Promise<number> {
    const qb = this.db
      .createQueryBuilder()
      .update(SessionEntity)
      .set({ revokedAt: at })
      .where("idp_entity_id = :idp AND name_id->>'value' = :nameId AND revoked_at IS NULL", { idp: idpEntityId, nameId });
    if (sessionIndexes.length) qb.andWhere('session_index IN (:...indexes)', { indexes: sessionIndexes });
    const result = await qb.execute();
    return result.affected ?? 0;
  }

  activeForUser(userId: string, now: Date): Promise<SessionEntity[]> {
    return this.repo
      .createQueryBuilder('s')
      .where('s.user_id = :userId AND s.revoked_at IS NULL AND s.expires_at > :now', { userId, now })
      .orderBy('s.created_at', 'DESC')
      .getMany();
  }

  async purgeEnded(before: Date): Promise<number> {
    const result = await this.db.query('DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1', [before]);
    return Array.isArray(result) ? Number(result[1] ?? 0) : 0;
  }
}
