import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, IsNull } from 'typeorm';
import { ApiKeyEntity } from './api-key.entity';

@Injectable()
export class ApiKeyRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  private get repo() {
    return this.db.getRepository(ApiKeyEntity);
  }

  insert(key: ApiKeyEntity): Promise<unknown> {
    return this.repo.insert(key);
  }

  byPrefix(prefix: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOneBy({ prefix });
  }

  byId(keyId: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOneBy({ keyId });
  }

  list(userEmail: string | undefined, includeRevoked: boolean): Promise<ApiKeyEntity[]> {
    return this.repo.find({
      where: { ...(userEmail ? { userEmail } : {}), ...(includeRevoked ? {} : { revokedAt: IsNull() }) },
      order: { createdAt: 'ASC' },
    });
  }

  /** Sets revoked_at once; returns the row as it is afterwards. */
  async revoke(keyId: string, at: Date): Promise<ApiKeyEntity | null> {
    await this.repo.update({ keyId, revokedAt: IsNull() }, { revokedAt: at });
    return this.byId(keyId);
  }

  /** Keys still in use whose hash predates digests (hash_version 1): none of them can be verified any more. */
  activeLegacy(hashVersion: number, now: Date): Promise<ApiKeyEntity[]> {
    return this.repo
      .createQueryBuilder('k')
      .where('k.hash_version = :hashVersion AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > :now)', {
        hashVersion,
        now,
      })
      .orderBy('k.created_at', 'ASC')
      .getMany();
  }

  async touch(keyId: string, at: Date): Promise<void> {
    await this.repo.update({ keyId }, { lastUsedAt: at });
  }
}
