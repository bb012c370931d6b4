import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { NameId } from '../policy/assertion-policy';

/**
 * token_hash of a session: the 32 bytes of sessionDigest(cookie) (@maas/contracts), the same digest
 * the gateway sends over NATS, so auth finds a session from either without the cookie crossing the bus.
 */
export function tokenHashOf(digest: string): Buffer {
  return Buffer.from(digest, 'base64url');
}

/** A browser session. Only a hash of the cookie's token is stored, so the table cannot be replayed as cookies. */
@Entity({ name: 'sessions' })
export class SessionEntity {
  /** tokenHashOf(sessionDigest(cookie)). */
  @PrimaryColumn({ name: 'token_hash', type: 'bytea' })
  tokenHash!: Buffer;

  /** Not secret: names the session in listings and revocations. */
  @Column({ name: 'session_id', type: 'uuid', unique: true })
  sessionId!: string;

  @Column({ name: 'user_id', type: 'text' })
  userId!: string;

  /** Synchroniser token for the portal's forms, bound to this session. */
  @Column({ name: 'csrf_token', type: 'text' })
  csrfToken!: string;

  @Column({ name: 'idp_entity_id', type: 'text', nullable: true })
  idpEntityId!: string | null;

  /** What single logout needs to name this session at the IdP. */
  @Column({ name: 'name_id', type: 'jsonb', nullable: true })
  nameId!: NameId | null;

  @Column({ name: 'session_index', type: 'text', nullable: true })
  sessionIndex!: string | null;

  @Column({ name: 'client_ip', type: 'text', nullable: true })
  clientIp!: string | null;

  @Column({ name: 'user_agent', type: 'text', nullable: true })
  userAgent!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_seen_at', type: 'timestamptz' })
  lastSeenAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
