import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { BatchListReply, BatchListRequest } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { ApiError, errorType } from '@maas/openai-wire';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import type { VerifiedKey } from '../policy/key-cache';
import { describeWindowWouldExceed } from '../policy/token-windows';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { TokenBudgetService } from '../services/token-budget.service';
import { WorkerRegistryService } from '../services/worker-registry.service';
import { BATCH_ENDPOINTS, BatchEndpoint, parseBatchInputAsync } from './batch-input';
import { BatchQueueRepository } from './batch-queue.repository';
import { BatchRepository, BatchRow, FileRow, ResultCounts } from './batch.repository';
import { FILE_STORE, FileStore } from './file-store.repository';

/** An OpenAI-shaped refusal of a files/batches call. */
/** A Files or Batches API error: OpenAI's `ApiError`, its type the one its status implies. */
export function batchError(
  status: number,
  message: string,
  code: string,
  param: string | null = null,
  headers: Record<string, string> = {},
): ApiError {
  return new ApiError(status, message, errorType(status), param, code, headers);
}

export const FILE_PURPOSES = ['batch', 'batch_output'] as const;
const WINDOW_MS = 24 * 3600_000;
const secs = (d: Date | null) => (d ? Math.floor(new Date(d).getTime() / 1000) : null);
export const newId = (prefix: string) => `${prefix}${randomBytes(12).toString('hex')}`;

export function fileView(f: FileRow) {
  return {
    id: f.id,
    object: 'file',
    bytes: Number(f.bytes),
    created_at: secs(f.createdAt),
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
    status_details: null,
    expires_at: secs(f.expiresAt ?? null),
  };
}

export function batchView(b: BatchRow, counts: ResultCounts | undefined) {
  const done = counts ?? { completed: 0, failed: 0 };
  return {
    id: b.id,
    object: 'batch',
    endpoint: b.endpoint,
    errors: b.errors && b.errors.length > 0 ? { object: 'list', data: b.errors } : null,
    input_file_id: b.inputFileId,
    completion_window: b.completionWindow,
    status: b.status,
    output_file_id: b.outputFileId,
    error_file_id: b.errorFileId,
    created_at: secs(b.createdAt),
    in_progress_at: secs(b.inProgressAt),
    expires_at: secs(b.expiresAt),
    finalizing_at: secs(b.finalizingAt),
    completed_at: secs(b.completedAt),
    failed_at: secs(b.failedAt),
    expired_at: secs(b.expiredAt),
    cancelling_at: secs(b.cancellingAt),
    cancelled_at: secs(b.cancelledAt),
    request_counts: { total: b.total, completed: done.completed, failed: done.failed },
    metadata: b.metadata,
  };
}

function page<T extends { id: string }>(rows: T[], limit: number) {
  const has_more = rows.length > limit;
  const data = rows.slice(0, limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more };
}

/**
 * The files and batches of OpenAI's batch API, owned by the key's user: uploads, checks a batch's
 * whole input before anything runs, enforces the per-key pending-token ceiling, and queues the work.
 */
@Injectable()
export class BatchService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    @Inject(FILE_STORE) private readonly store: FileStore,
    private readonly repository: BatchRepository,
    private readonly queue: BatchQueueRepository,
    private readonly registry: WorkerRegistryService,
    private readonly budget: TokenBudgetService,
    private readonly logger: Logger,
  ) {}

  async uploadFile(
    key: VerifiedKey,
    filename: string,
    purpose: string,
    data: Buffer,
    expiresAfter: { anchor?: string; seconds?: string } = {},
  ) {
    if (!(FILE_PURPOSES as readonly string[]).includes(purpose) || purpose === 'batch_output') {
      throw batchError(400, `purpose must be "batch" (got ${JSON.stringify(purpose)})`, 'invalid_value', 'purpose');
    }
    const lifetime = fileLifetimeMs(expiresAfter);
    // The user's expired files go now: their bytes leave the store before the quota is counted.
    for (const id of await this.repository.removeExpiredFiles(key.userId)) await this.store.delete(id);
    const held = await this.repository.userFileBytes(key.userId);
    const quota = this.config.GATEWAY_FILE_QUOTA_BYTES;
    if (held + data.length > quota) {
      throw batchError(
        400,
        `this upload of ${data.length} bytes would take your files to ${held + data.length} bytes, over the quota of ${quota} bytes; delete files you no longer need`,
        'storage_quota_exceeded',
        'file',
      );
    }
    const row: FileRow = {
      id: newId('file-'),
      userId: key.userId,
      keyId: key.keyId,
      filename: filename.replace(/\u0000/g, '').slice(0, 255) || 'upload.jsonl',
      purpose,
      bytes: data.length,
      createdAt: new Date(this.clock.now()),
    };
    if (lifetime !== undefined) row.expiresAt = new Date(row.createdAt.getTime() + lifetime);
    await this.store.put(row.id, data);
    await this.repository.insertFile(row);
    return fileView(row);
  }

  async file(key: VerifiedKey, id: string) {
    return fileView(await this.ownFile(key, id));
  }

  async fileContent(key: VerifiedKey, id: string): Promise<Buffer> {
    await this.ownFile(key, id);
    return this.store.get(id);
  }

  async listFiles(key: VerifiedKey, after: string | undefined, limit: number, purpose: string | undefined) {
    return page((await this.repository.files(key.userId, after, limit + 1, purpose)).map(fileView), limit);
  }

  async deleteFile(key: VerifiedKey, id: string) {
    await this.ownFile(key, id);
    // its batch reads requests from it until it ends: deleting it would leave the batch unable to finish
    const user = await this.repository.unfinishedBatchOf(id);
    if (user)
      throw batchError(
        409,
        `file ${id} is the input of batch ${user.id}, which is ${user.status}; cancel the batch or wait for it to end`,
        'file_in_use',
        'file_id',
      );
    await this.repository.deleteFile(id, key.userId);
    await this.store.delete(id);
    return { id, object: 'file', deleted: true };
  }

  private async ownFile(key: VerifiedKey, id: string): Promise<FileRow> {
    const f = await this.repository.file(id, key.userId);
    // Another user's file answers exactly like a missing one.
    if (!f) throw batchError(404, `no file with id "${id}"`, 'file_not_found', 'file_id');
    return f;
  }

  async create(key: VerifiedKey, body: Record<string, unknown>) {
    const { input_file_id: inputFileId, endpoint, completion_window: window, metadata } = body;
    if (typeof inputFileId !== 'string') throw batchError(400, 'input_file_id is required', 'missing_required_parameter', 'input_file_id');
    if (typeof endpoint !== 'string' || !(BATCH_ENDPOINTS as readonly string[]).includes(endpoint)) {
      throw batchError(400, `endpoint must be one of ${BATCH_ENDPOINTS.join(', ')}`, 'invalid_value', 'endpoint');
    }
    if (window !== '24h') throw batchError(400, 'completion_window must be "24h"', 'invalid_value', 'completion_window');
    if (metadata !== undefined && metadata !== null && !isStringMap(metadata)) {
      throw batchError(
        400,
        'metadata must be an object of at most 16 string values (keys up to 64, values up to 512 characters, no NUL)',
        'invalid_value',
        'metadata',
      );
    }
    const file = await this.ownFile(key, inputFileId).catch(() => {
      throw batchError(404, `no file with id "${inputFileId}"`, 'file_not_found', 'input_file_id');
    });
    if (file.purpose !== 'batch')
      throw batchError(400, `file ${inputFileId} has purpose "${file.purpose}", not "batch"`, 'invalid_value', 'input_file_id');

    const parsed = await parseBatchInputAsync(await this.store.get(inputFileId), endpoint as BatchEndpoint, (model) => {
      if (!key.allowsModel(model)) return `this API key may not use model "${model}"`;
      if (!this.registry.knownModel(model)) return `the model "${model}" does not exist or no worker serves it`;
      return undefined;
    });
    const now = new Date(this.clock.now());
    const row: BatchRow = {
      id: newId('batch_'),
      userId: key.userId,
      keyId: key.keyId,
      keyPrefix: key.prefix,
      endpoint,
      keyExpiresAt: key.expiresAt === undefined ? null : new Date(key.expiresAt),
      keyAllowedModels: [...(key.allowedModels ?? [])],
      inputFileId,
      completionWindow: window,
      status: parsed.ok ? 'validating' : 'failed',
      metadata: (metadata as Record<string, string>) ?? null,
      errors: parsed.ok ? null : parsed.errors,
      total: parsed.ok ? parsed.lines.length : 0,
      inputTokens: parsed.ok ? parsed.inputTokens : 0,
      outputFileId: null,
      errorFileId: null,
      createdAt: now,
      inProgressAt: null,
      expiresAt: new Date(now.getTime() + WINDOW_MS),
      finalizingAt: null,
      completedAt: null,
      failedAt: parsed.ok ? null : now,
      expiredAt: null,
      cancellingAt: null,
      cancelledAt: null,
    };
    if (parsed.ok) {
      const pending = await this.repository.pendingInputTokens(key.keyId);
      const ceiling = this.config.GATEWAY_BATCH_MAX_PENDING_TOKENS;
      if (pending + parsed.inputTokens > ceiling) {
        throw batchError(
          429,
          `batch_pending_tokens limit: this batch has ~${parsed.inputTokens} input tokens and the key's queued and running batches ~${pending}; the limit is ${ceiling}`,
          'batch_pending_tokens_exceeded',
          null,
          {
            'x-ratelimit-name': 'batch_pending_tokens',
            'x-ratelimit-limit': String(ceiling),
            'x-ratelimit-used': String(pending),
          },
        );
      }
      // The key's batch token windows: refused when one is used up or this batch would overrun it.
      const window = await this.budget.exceededWith(key, 'batch', parsed.inputTokens);
      if (window) {
        const limit = `batch_${window.window}_window_tokens`;
        throw batchError(429, describeWindowWouldExceed(window), `${limit}_exceeded`, null, {
          ...(window.retryAfterSeconds === null ? {} : { 'retry-after': String(window.retryAfterSeconds) }),
          'x-ratelimit-name': limit,
          'x-ratelimit-limit': String(window.ceiling),
          'x-ratelimit-used': String(Math.round(window.used)),
        });
      }
    }
    await this.repository.insertBatch(row);
    if (!parsed.ok) {
      this.logger.info('batch refused by validation', { batchId: row.id, errors: parsed.errors.length });
      return batchView(row, undefined);
    }
    await this.start(row.id, parsed.lines);
    return batchView((await this.repository.batch(row.id))!, undefined);
  }

  /** Queues every line and marks the batch in progress; safe to repeat (de-duplicated by batch and line). */
  async start(batchId: string, lines: readonly { line: number; customId: string }[]): Promise<void> {
    await this.queue.enqueue(lines.map((l) => ({ batchId, line: l.line, customId: l.customId })));
    await this.repository.transition(batchId, ['validating'], 'in_progress', new Date(this.clock.now()));
    this.logger.info('batch queued', { batchId, requests: lines.length });
  }

  async get(key: VerifiedKey, id: string) {
    const b = await this.ownBatch(key, id);
    return batchView(b, (await this.repository.counts([b.id])).get(b.id));
  }

  async list(key: VerifiedKey, after: string | undefined, limit: number) {
    const rows = await this.repository.batches(key.userId, after, limit + 1);
    const counts = await this.repository.counts(rows.map((r) => r.id));
    return page(
      rows.map((r) => batchView(r, counts.get(r.id))),
      limit,
    );
  }

  /** `gateway.list-batches`: the portal's view of a user's batches (or everyone's), with progress. */
  async summaries(request: BatchListRequest): Promise<BatchListReply> {
    const rows = await this.repository.recent(request.userEmail, request.limit ?? 100);
    const counts = await this.repository.counts(rows.map((r) => r.id));
    const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
    return {
      batches: rows.map((b) => {
        const c = counts.get(b.id) ?? { completed: 0, failed: 0 };
        return {
          id: b.id,
          userEmail: b.userId,
          keyPrefix: b.keyPrefix,
          endpoint: b.endpoint,
          status: b.status,
          total: b.total,
          completed: c.completed,
          failed: c.failed,
          createdAt: iso(b.createdAt)!,
          expiresAt: iso(b.expiresAt)!,
          finishedAt: iso(b.completedAt ?? b.failedAt ?? b.expiredAt ?? b.cancelledAt),
        };
      }),
    };
  }

  /** A revoked key (or every key of a disabled account) stops its queued and running batches, as a cancel would. */
  async keyRevoked(keyId: string): Promise<void> {
    const cancelled = await this.repository.cancelKeyBatches(keyId, new Date(this.clock.now()));
    if (cancelled.length > 0) this.logger.info('key revoked: its batches cancelled', { keyId, batches: cancelled });
  }

  async cancel(key: VerifiedKey, id: string) {
    const b = await this.ownBatch(key, id);
    const moved = await this.repository.transition(b.id, ['validating', 'in_progress'], 'cancelling', new Date(this.clock.now()));
    if (!moved && b.status !== 'cancelling' && b.status !== 'cancelled') {
      throw batchError(409, `batch ${id} is ${b.status} and can no longer be cancelled`, 'batch_not_cancellable');
    }
    return this.get(key, id);
  }

  private async ownBatch(key: VerifiedKey, id: string): Promise<BatchRow> {
    const b = await this.repository.batch(id, key.userId);
    if (!b) throw batchError(404, `no batch with id "${id}"`, 'batch_not_found', 'batch_id');
    return b;
  }
}

/** OpenAI's bounds on `expires_after[seconds]`: an hour to 30 days. */
export const FILE_LIFETIME_SECONDS = { min: 3600, max: 2_592_000 } as const;

/** The lifetime `expires_after` asks for, in ms; undefined when it asks for none. */
function fileLifetimeMs(e: { anchor?: string; seconds?: string }): number | undefined {
  if (e.anchor === undefined && e.seconds === undefined) return undefined;
  if (e.anchor !== 'created_at')
    throw batchError(
      400,
      `expires_after[anchor] must be "created_at" (got ${JSON.stringify(e.anchor ?? null)})`,
      'invalid_value',
      'expires_after.anchor',
    );
  const seconds = Number(e.seconds);
  if (!/^\d+$/.test(e.seconds ?? '') || seconds < FILE_LIFETIME_SECONDS.min || seconds > FILE_LIFETIME_SECONDS.max) {
    throw batchError(
      400,
      `expires_after[seconds] must be a whole number from ${FILE_LIFETIME_SECONDS.min} to ${FILE_LIFETIME_SECONDS.max} (got ${JSON.stringify(e.seconds ?? null)})`,
      'invalid_value',
      'expires_after.seconds',
    );
  }
  return seconds * 1000;
}

function isStringMap(v: unknown): v is Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const entries = Object.entries(v);
  // NUL is the one character PostgreSQL cannot store in text or jsonb.
  return (
    entries.length <= 16 &&
    entries.every(([k, s]) => k.length <= 64 && typeof s === 'string' && s.length <= 512 && !k.includes('\u0000') && !s.includes('\u0000'))
  );
}
