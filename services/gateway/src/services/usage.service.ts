import { Inject, Injectable } from '@nestjs/common';
import { INVALID_MODEL, RequestCompleted } from '@maas/contracts';
import type { InferenceRoute } from '../policy/openai-request';
import type { VerifiedKey } from '../policy/key-cache';
import { LimitExceeded, rateLimitHeaders, tighter } from '../policy/key-limits';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { describeWindowExceeded } from '../policy/token-windows';
import { UsageRepository } from '../repositories/usage.repository';
import { KeyLimitsService } from './key-limits.service';
import { RequestMetrics } from './request-metrics';
import type { RequestSpan } from './request-span';
import { TokenBudgetService } from './token-budget.service';
import { WorkerRegistryService } from './worker-registry.service';

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The accounting of one authenticated request, filled in as it goes; turned into one usage event. */
export interface RequestRecord {
  /** The gateway's id of the request, which usage is keyed on. */
  readonly requestId: string;
  /** The client's `X-Request-Id`, for tracing only: never a key, so reusing one cannot drop usage. */
  clientRequestId?: string;
  readonly route: InferenceRoute;
  readonly key: VerifiedKey;
  readonly endUser?: string;
  /** Batch requests are billed and reported apart from interactive ones. */
  readonly kind: 'interactive' | 'batch';
  readonly startedAt: number;
  readonly t0: number;
  model: string;
  stream: boolean;
  workerId: string | null;
  promptChars: number;
  promptTokens: number;
  completionTokens: number;
  countedBy: 'runtime' | 'gateway';
  /** Seconds of audio a transcription carried (the runtime's measure). */
  audioSeconds?: number;
  ttftMs: number | null;
  /** Arrival to the (last) upstream request being sent; null while never sent to a worker. */
  queueMs: number | null;
  /** The request's server span while tracing is on; the usage event carries its trace. */
  span?: RequestSpan;
  admitted: boolean;
  completed: boolean;
}

/**
 * Per-key limits at admission, and exactly one `usage.request-completed` per authenticated request
 * when it ends, whatever the outcome.
 */
@Injectable()
export class UsageService {
  private readonly metrics: RequestMetrics;

  constructor(
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly repository: UsageRepository,
    private readonly budget: TokenBudgetService,
    registry: WorkerRegistryService,
    // Counted by this gateway alone unless the module provides the shared store.
    private readonly limiter: KeyLimitsService = new KeyLimitsService(clock),
  ) {
    this.metrics = new RequestMetrics(registry);
  }

  begin(
    requestId: string,
    route: InferenceRoute,
    key: VerifiedKey,
    startedAt: number,
    t0: number,
    endUser?: string,
    kind: 'interactive' | 'batch' = 'interactive',
  ): RequestRecord {
    return {
      requestId,
      route,
      key,
      endUser,
      kind,
      startedAt,
      t0,
      model: INVALID_MODEL,
      stream: false,
      workerId: null,
      promptChars: 0,
      promptTokens: 0,
      completionTokens: 0, // the model: until a usable name is read
      countedBy: 'gateway',
      ttftMs: null,
      queueMs: null,
      admitted: false,
      completed: false,
    };
  }

  /** Counts the request against its key's limits, or says which one it would break. */
  async admit(record: RequestRecord): Promise<LimitExceeded | undefined> {
    const window = await this.budget.exceeded(record.key, record.kind === 'batch' ? 'batch' : 'chat');
    if (window) {
      const limit = `${window.kind}_${window.window}_window_tokens` as const;
      return {
        limit,
        used: window.used,
        ceiling: window.ceiling,
        retryAfterSeconds: window.retryAfterSeconds,
        message: describeWindowExceeded(window),
      };
    }
    const refused = await this.limiter.admit(record.key.keyId, record.key.limits, this.clock.now());
    if (!refused) record.admitted = true;
    return refused;
  }

  /** OpenAI's `x-ratelimit-*` headers for an interactive request of the key: the tighter of per-minute tokens and token windows. */
  limitHeaders(key: VerifiedKey, kind: 'interactive' | 'batch' = 'interactive'): Record<string, string> {
    const { limits } = key;
    if (
      kind === 'batch' ||
      !(limits.requestsPerMinute || limits.tokensPerMinute || limits.chatShortWindowTokens || limits.chatLongWindowTokens)
    )
      return NO_HEADERS;
    const minute = this.limiter.standing(key.keyId, limits, this.clock.now());
    return rateLimitHeaders(minute.requests, tighter(minute.tokens, this.budget.standing(key, 'chat')));
  }

  /** Ends the request: frees its limits and records its usage event. Later calls do nothing. */
  complete(record: RequestRecord, status: number, errorCode: string | null): void {
    if (record.completed) return;
    record.completed = true;
    const end = this.clock.monotonic();
    const now = this.clock.now();
    const latencyMs = Math.max(0, end - record.t0);
    if (record.admitted) this.limiter.release(record.key.keyId, record.promptTokens + record.completionTokens, now);
    this.budget.record(
      record.key.keyId,
      record.kind === 'batch' ? 'batch' : 'chat',
      record.promptTokens + record.completionTokens,
      now,
      record.key.limits,
    );
    const event: RequestCompleted = {
      requestId: record.requestId,
      ...(record.clientRequestId ? { clientRequestId: record.clientRequestId } : {}),
      keyId: record.key.keyId,
      userId: record.key.userId,
      ...(record.endUser ? { endUser: record.endUser } : {}),
      model: record.model,
      workerId: record.workerId,
      endpoint: record.route.endpoint,
      kind: record.kind,
      stream: record.stream,
      status,
      errorCode,
      promptTokens: record.promptTokens,
      completionTokens: record.completionTokens,
      tokensCountedBy: record.countedBy,
      ...(record.audioSeconds !== undefined ? { audioSeconds: record.audioSeconds } : {}),
      ttftMs: record.ttftMs === null ? null : Math.round(record.ttftMs * 1000) / 1000,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      startedAt: new Date(record.startedAt).toISOString(),
      finishedAt: new Date(now).toISOString(),
    };
    this.metrics.observe(record, status, latencyMs);
    record.span?.accountedAs(record, status, errorCode, latencyMs);
    this.repository.record(event, record.span?.context);
  }
}
