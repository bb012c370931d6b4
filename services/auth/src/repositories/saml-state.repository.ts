import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SamlRequestEntity } from './saml-request.entity';

function pendingOf(r: Record<string, unknown>): SamlRequestEntity {
  return {
    requestId: String(r.request_id),
    idpEntityId: String(r.idp_entity_id),
    browserHash: r.browser_hash as Buffer,
    returnTo: String(r.return_to),
    createdAt: new Date(r.created_at as string),
    expiresAt: new Date(r.expires_at as string),
  };
}

/**
 * Server-side SAML state shared by every replica: the AuthnRequests awaiting an answer (each
 * answerable once) and the IDs of assertions already used (so a captured response cannot be replayed).
 */
@Injectable()
export class SamlStateRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async savePending(request: SamlRequestEntity): Promise<void> {
    await this.db.getRepository(SamlRequestEntity).insert(request);
  }

  /** The pending request, left in place (nothing is consumed until every check has passed). */
  async peekPending(requestId: string): Promise<SamlRequestEntity | null> {
    const rows = (await this.db.query('SELECT * FROM saml_requests WHERE request_id = $1', [requestId])) as Record<string, unknown>[];
    return rows[0] ? pendingOf(rows[0]) : null;
  }

  /** Removes and returns the pending request in one statement: two responses cannot both claim it. */
  async takePending(requestId: string): Promise<SamlRequestEntity | null> {
    const [rows] = (await this.db.query('DELETE FROM saml_requests WHERE request_id = $1 RETURNING *', [requestId])) as [
      Record<string, unknown>[],
      number,
    ];
    return rows[0] ? pendingOf(rows[0]) : null;
  }

  /** Whether an assertion was already used (a replay), without recording it. */
  async assertionSeen(idpEntityId: string, assertionId: string): Promise<boolean> {
    const rows = (await this.db.query('SELECT 1 FROM saml_assertions_seen WHERE idp_entity_id = $1 AND assertion_id = $2', [
      idpEntityId,
      assertionId,
    ])) as unknown[];
    return rows.length > 0;
  }

  /** Records an assertion as used; false when it already was (a replay). */
  async markAssertionUsed(idpEntityId: string, assertionId: string, keepUntil: Date): Promise<boolean> {
    const rows = (await this.db.query(
      'INSERT INTO saml_assertions_seen (idp_entity_id, assertion_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING assertion_id',
      [idpEntityId, assertionId, keepUntil],
    )) as unknown[];
    return rows.length === 1;
  }

  async purgeExpired(now: Date): Promise<void> {
    await this.db.query('DELETE FROM saml_requests WHERE expires_at < $1', [now]);
    await this.db.query('DELETE FROM saml_assertions_seen WHERE expires_at < $1', [now]);
  }
}
