import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { KeyLimits } from '@maas/contracts';

/** An API key as stored: never the secret, only the HMAC of its digest under the server secret. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn({ name: 'key_id', type: 'uuid' })
  keyId!: string;

  @Column({ type: 'text', unique: true })
  prefix!: string;

  @Column({ type: 'bytea' })
  hash!: Buffer;

  /** LEGACY_HASH_VERSION (HMAC of the key, refused) or DIGEST_HASH_VERSION (HMAC of its digest); see key-hasher.ts. */
  @Column({ name: 'hash_version', type: 'smallint' })
  hashVersion!: number;

  @Column({ name: 'user_id', type: 'text' })
  userId!: string;

  @Column({ name: 'user_email', type: 'text' })
  userEmail!: string;

  @Column({ type: 'text', nullable: true })
  name!: string | null;

  @Column({ name: 'allowed_models', type: 'jsonb', default: () => "'[]'" })
  allowedModels!: string[];

  @Column({ name: 'allowed_cidrs', type: 'jsonb', default: () => "'[]'" })
  allowedCidrs!: string[];

  @Column({ type: 'boolean', default: false })
  trusted!: boolean;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  limits!: KeyLimits;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
