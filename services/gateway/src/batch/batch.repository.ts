import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { BatchLineError, BatchResult } from './batch-input';

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** Timestamps of status changes, as OpenAI names them (epoch seconds in the API). */
export const STATUS_TIMESTAMP: Partial<Record<BatchStatus, string>> = {
  in_progress: 'in_progress_at',
  finalizing: 'finalizing_at',
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelling: 'cancelling_at',
  cancelled: 'cancelled_at',
};

export interface FileRow {
  id: string;
  userId: string;
  keyId: string;
  filename: string;
  purpose: string;
  bytes: number;
  createdAt: Date;
  /** Undefined or null: the file never expires. */
  expiresAt?: Date | null;
}

export interface BatchRow {
  id: string;
  userId: string;
  keyId: string;
  keyPrefix: string;
  /** The key's expiry when the batch was created (null: none, or a batch from before it was kept). */
  keyExpiresAt: Date | null;
  /** The key's model globs when the batch was created (null: a batch from before they were kept). */
  keyAllowedModels: string[] | null;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  status: BatchStatus;
  metadata: Record<string, string> | null;
  errors: BatchLineError[] | null;
  total: number;
  inputTokens: number;
  outputFileId: string | null;
  errorFileId: string | null;
  createdAt: Date;
  inProgressAt: Date | null;
  expiresAt: Date;
  finalizingAt: Date | null;
  completedAt: Date | null;
  failedAt: Date | null;
  expiredAt: Date | null;
  cancellingAt: Date | null;
  cancelledAt: Date | null;
}

export interface ResultCounts {
  completed: number;
  failed: number;
}

const BATCH_COLUMNS = `id, user_id AS "userId", key_id AS "keyId", key_prefix AS "keyPrefix", key_expires_at AS "keyExpiresAt", key_allowed_models AS "keyAllowedModels", endpoint, input_file_id AS "inputFileId",
  completion_window AS "completionWindow", status, metadata, errors, total, input_tokens::float8 AS "inputTokens",
  output_file_id AS "outputFileId", error_file_id AS "errorFileId", created_at AS "createdAt", in_progress_at AS "inProgressAt",
  expires_at AS "expiresAt", finalizing_at AS "finalizingAt", completed_at AS "completedAt", failed_at AS "failedAt",
  expired_at AS "expiredAt", cancelling_at AS "cancellingAt", cancelled_at AS "cancelledAt"`;
const FILE_COLUMNS = `id, user_id AS "userId", key_id AS "keyId", filename, purpose, bytes::float8 AS bytes, created_at AS "createdAt", expires_at AS "expiresAt"`;
/** Files past their expiry are gone for their user (their rows and bytes are removed at the user's next upload). */
const LIVE = '(expires_at IS NULL OR expires_at > now())';

/** Batch and file metadata and per-request results in the gateway's PostgreSQL tables. */
@Injectable()
export class BatchRepository {
  constructor(private readonly db: DataSource) {}

  async insertFile(f: FileRow): Promise<void> {
    await this.db.query(
      'INSERT INTO batch_files (id, user_id, key_id, filename, purpose, bytes, created_at, expires_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (id) DO NOTHING',
      [f.id, f.userId, f.keyId, f.filename, f.purpose, f.bytes, f.createdAt, f.expiresAt ?? null],
    );
  }

  async file(id: string, userId: string): Promise<FileRow | undefined> {
    const rows: FileRow[] = await this.db.query(`SELECT ${FILE_COLUMNS} FROM batch_files WHERE id = $1 AND user_id = $2 AND ${LIVE}`, [
      id,
      userId,
    ]);
    return rows[0];
  }

  /** Newest first; `after` is the last id of the previous page. */
  async files(userId: string, after: string | undefined, limit: number, purpose?: string): Promise<FileRow[]> {
    return this.db.query(
      `SELECT ${FILE_COLUMNS} FROM batch_files WHERE user_id = $1 AND ${LIVE} AND ($2::text IS NULL OR purpose = $2)
        AND ($3::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM batch_files WHERE id = $3))
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [userId, purpose ?? null, after ?? null, limit],
    );
  }

  /** Bytes of every file a user holds (expired ones no longer count). */
  async userFileBytes(userId: string): Promise<number> {
    const rows: { bytes: number }[] = await this.db.query(
      `SELECT COALESCE(SUM(bytes), 0)::float8 AS bytes FROM batch_files WHERE user_id = $1 AND ${LIVE}`,
      [userId],
    );
    return rows[0].bytes;
  }

  /** A user's expired files that no unfinished batch reads: removed from the table here; their ids returned for the store. */
  async removeExpiredFiles(userId: string): Promise<string[]> {
    const [rows] = (await this.db.query(
      `DELETE FROM batch_files f WHERE f.user_id = $1 AND NOT (f.expires_at IS NULL OR f.expires_at > now())
         AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.input_file_id = f.id AND b.status IN ('validating', 'in_progress', 'finalizing', 'cancelling'))
       RETURNING f.id`,
      [userId],
    )) as [{ id: string }[], number];
    return rows.map((r) => r.id);
  }

  async deleteFile(id: string, userId: string): Promise<boolean> {
    const [, count] = await this.db.query('DELETE FROM batch_files WHERE id = $1 AND user_id = $2', [id, userId]);
    return count > 0;
  }

  /** The unfinished batch (queued, running or being finalized) that reads this input file, if any. */
  async unfinishedBatchOf(inputFileId: string): Promise<{ id: string; status: BatchStatus } | undefined> {
    const rows: { id: string; status: BatchStatus }[] = await this.db.query(
      `SELECT id, status FROM batches WHERE input_file_id = $1 AND status IN ('validating', 'in_progress', 'finalizing', 'cancelling') LIMIT 1`,
      [inputFileId],
    );
    return rows[0];
  }

  async insertBatch(b: BatchRow): Promise<void> {
    await this.db.query(
      `INSERT INTO batches (id, user_id, key_id, key_prefix, endpoint, input_file_id, completion_window, status, metadata, errors, total, input_tokens,
        created_at, expires_at, failed_at, key_expires_at, key_allowed_models) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)`,
      [
        b.id,
        b.userId,
        b.keyId,
        b.keyPrefix,
        b.endpoint,
        b.inputFileId,
        b.completionWindow,
        b.status,
        b.metadata ? JSON.stringify(b.metadata) : null,
        b.errors ? JSON.stringify(b.errors) : null,
        b.total,
        b.inputTokens,
        b.createdAt,
        b.expiresAt,
        b.failedAt,
        b.keyExpiresAt,
        b.keyAllowedModels ? JSON.stringify(b.keyAllowedModels) : null,
      ],
    );
  }

  async batch(id: string, userId?: string): Promise<BatchRow | undefined> {
    const rows: BatchRow[] = await this.db.query(
      `SELECT ${BATCH_COLUMNS} FROM batches WHERE id = $1 AND ($2::text IS NULL OR user_id = $2)`,
      [id, userId ?? null],
    );
    return rows[0];
  }

  async batches(userId: string, after: string | undefined, limit: number): Promise<BatchRow[]> {
    return this.db.query(
      `SELECT ${BATCH_COLUMNS} FROM batches WHERE user_id = $1
        AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM batches WHERE id = $2))
        ORDER BY created_at DESC, id DESC LIMIT $3`,
      [userId, after ?? null, limit],
    );
  }

  /** Newest first: one user's batches, or everyone's when `userId` is undefined. */
  async recent(userId: string | undefined, limit: number): Promise<BatchRow[]> {
    return this.db.query(
      `SELECT ${BATCH_COLUMNS} FROM batches WHERE ($1::text IS NULL OR user_id = $1) ORDER BY created_at DESC, id DESC LIMIT $2`,
      [userId ?? null, limit],
    );
  }

  /** Batches an executor may still have work or bookkeeping for. */
  async unfinished(): Promise<BatchRow[]> {
    return this.db.query(`SELECT ${BATCH_COLUMNS} FROM batches WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling')`);
  }

  /** Estimated input tokens of the key's batches that are queued or running. */
  async pendingInputTokens(keyId: string): Promise<number> {
    const rows: { pending: number }[] = await this.db.query(
      `SELECT COALESCE(SUM(input_tokens), 0)::float8 AS pending FROM batches WHERE key_id = $1 AND status IN ('validating', 'in_progress', 'cancelling')`,
      [keyId],
    );
    return rows[0].pending;
  }

  /**
   * Moves a batch from one of `from` to `to`, stamping the status time; false when another
   * process moved it first (the conditional update is what lets only one of them finalize).
   */
  /** Moves every queued or running batch of a key to cancelling (the key was revoked); returns their ids. */
  async cancelKeyBatches(keyId: string, at: Date): Promise<string[]> {
    const [rows] = (await this.db.query(
      `UPDATE batches SET status = 'cancelling', cancelling_at = $2 WHERE key_id = $1 AND status IN ('validating', 'in_progress') RETURNING id`,
      [keyId, at],
    )) as [{ id: string }[], number];
    return rows.map((r) => r.id);
  }

  async transition(
    id: string,
    from: readonly BatchStatus[],
    to: BatchStatus,
    at: Date,
    set: { outputFileId?: string | null; errorFileId?: string | null } = {},
  ): Promise<boolean> {
    const column = STATUS_TIMESTAMP[to];
    const [, count] = await this.db.query(
      `UPDATE batches SET status = $3${column ? `, ${column} = $4` : ''},
         output_file_id = COALESCE($5, output_file_id), error_file_id = COALESCE($6, error_file_id)
       WHERE id = $1 AND status = ANY($2::text[])`,
      [id, from, to, at, set.outputFileId ?? null, set.errorFileId ?? null],
    );
    return count > 0;
  }

  /** Writes one request's result; false when it was already written (a redelivery). */
  async insertResult(batchId: string, r: BatchResult, at: Date): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `INSERT INTO batch_results (batch_id, custom_id, line, request_id, status_code, body, error, created_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (batch_id, custom_id) DO NOTHING RETURNING 1`,
      [
        batchId,
        r.customId,
        r.line,
        r.requestId,
        r.statusCode,
        r.body === undefined || r.body === null ? null : JSON.stringify(r.body),
        r.error ? JSON.stringify(r.error) : null,
        at,
      ],
    );
    return rows.length > 0;
  }

  /**
   * Gives every request of the batch without a result the same failed result (one statement; a
   * request finishing later finds its row taken and is not written). Returns how many were added.
   */
  async failUnfinished(
    batchId: string,
    requests: readonly { customId: string; line: number }[],
    error: { code: string; message: string },
    at: Date,
  ): Promise<number> {
    if (requests.length === 0) return 0;
    const rows: unknown[] = await this.db.query(
      `INSERT INTO batch_results (batch_id, custom_id, line, request_id, status_code, body, error, created_at)
       SELECT $1, r.custom_id, r.line, $1 || '-L' || r.line, NULL, NULL, $4::jsonb, $5 FROM unnest($2::text[], $3::int[]) AS r(custom_id, line)
       ON CONFLICT (batch_id, custom_id) DO NOTHING RETURNING 1`,
      [batchId, requests.map((r) => r.customId), requests.map((r) => r.line), JSON.stringify(error), at],
    );
    return rows.length;
  }

  async hasResult(batchId: string, customId: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query('SELECT 1 FROM batch_results WHERE batch_id = $1 AND custom_id = $2', [batchId, customId]);
    return rows.length > 0;
  }

  async counts(batchIds: readonly string[]): Promise<Map<string, ResultCounts>> {
    const out = new Map<string, ResultCounts>();
    if (batchIds.length === 0) return out;
    const rows: { batchId: string; completed: number; failed: number }[] = await this.db.query(
      `SELECT batch_id AS "batchId", COUNT(*) FILTER (WHERE status_code BETWEEN 200 AND 299)::int AS completed,
         COUNT(*) FILTER (WHERE status_code IS NULL OR status_code NOT BETWEEN 200 AND 299)::int AS failed
       FROM batch_results WHERE batch_id = ANY($1::text[]) GROUP BY batch_id`,
      [batchIds],
    );
    for (const r of rows) out.set(r.batchId, { completed: r.completed, failed: r.failed });
    return out;
  }

  async results(batchId: string): Promise<BatchResult[]> {
    return this.db.query(
      `SELECT custom_id AS "customId", line, request_id AS "requestId", status_code AS "statusCode", body, error
       FROM batch_results WHERE batch_id = $1 ORDER BY line`,
      [batchId],
    );
  }
}
