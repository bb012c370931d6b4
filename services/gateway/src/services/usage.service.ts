import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import type { RequestCompleted } from '@maas/contracts';
import type { InferenceRoute } from '../policy/openai-request';
import type { VerifiedKey } from '../policy/key-cache';
import { KeyLimiter, LimitExceeded } from '../policy/key-limits';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { describeWindowExceeded } from '../policy/token-windows';
import { UsageRepository } from '../repositories/usage.repository';
import { TokenBudgetService } from './token-budget.service';

const requests = new Counter({ name: 'maas_gateway_requests_total', help: 'Inference requests by endpoint and status', labelNames: ['endpoint', 'status'] });
const latency = new Histogram({
  name: 'maas_gateway_request_seconds',
  help: 'Inference request duration, arrival to last byte',
  labelNames: ['endpoint', 'stream'],
  buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
});
const ttft = new Histogram({
  name: 'maas_gateway_ttft_seconds',
  help: 'Time to first generated token of streamed requests, as the gateway saw it',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
});
const tokens = new Counter({ name: 'maas_gateway_tokens_total', help: 'Tokens by kind (prompt, completion) and who counted them', labelNames: ['kind', 'counted_by'] });

/** Labelled children, looked up once per label set (prom-client hashes the labels on every call otherwise). */
const children = new WeakMap<object, Map<string, unknown>>();
function child<T>(metric: object, key: string, make: () => T): T {
  let byKey = children.get(metric);
  if (!byKey) children.set(metric, (byKey = new Map()));
  let c = byKey.get(key) as T | undefined;
  if (c === undefined) byKey.set(key, (c = make()));
  return c;
}

/** The accounting of one authenticated request, filled in as it goes; turned into one usage event. */
export interface RequestRecord {
  readonly requestId: string;
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
  admitted: boolean;
  completed: boolean;
}

/**
 * Per-key limits at admission, and exactly one `usage.request-completed` per authenticated request
 * when it ends, whatever the outcome.
 */
@Injectable()
export class UsageService {
  private readonly limiter = new KeyLimiter();

  constructor(
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly repository: UsageRepository,
    private readonly budget: TokenBudgetService,
  ) {}

  begin(requestId: string, route: InferenceRoute, key: VerifiedKey, startedAt: number, t0: number, endUser?: string, kind: 'interactive' | 'batch' = 'interactive'): RequestRecord {
    return {
      requestId, route, key, endUser, kind, startedAt, t0,
      model: '', stream: false, workerId: null, promptChars: 0, promptTokens: 0, completionTokens: 0,
      countedBy: 'gateway', ttftMs: null, admitted: false, completed: false,
    };
  }

  /** Counts the request against its key's limits, or says which one it would break. */
  async admit(record: RequestRecord): Promise<LimitExceeded | undefined> {
    const window = await this.budget.exceeded(record.key, record.kind === 'batch' ? 'batch' : 'chat');
    if (window) {
      const limit = `${window.kind}_${window.window}_window_tokens` as const;
      return { limit, used: window.used, ceiling: window.ceiling, retryAfterSeconds: window.retryAfterSeconds, message: describeWindowExceeded(window) };
    }
    const refused = this.limiter.admit(record.key.keyId, record.key.limits, this.clock.now());
    if (!refused) record.admitted = true;
    return refused;
  }

  /** Ends the request: frees its limits and records its usage event. Later calls do nothing. */
  complete(record: RequestRecord, status: number, errorCode: string | null): void {
    if (record.completed) return;
    record.completed = true;
    const end = this.clock.monotonic();
    const now = this.clock.now();
    const latencyMs = Math.max(0, end - record.t0);
    if (record.admitted) this.limiter.release(record.key.keyId, record.promptTokens + record.completionTokens, now);
    this.budget.record(record.key.keyId, record.kind === 'batch' ? 'batch' : 'chat', record.promptTokens + record.completionTokens, now);
    const event: RequestCompleted = {
      requestId: record.requestId,
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
    const endpoint = record.route.endpoint;
    child(requests, `${endpoint}|${status}`, () => requests.labels(endpoint, String(status))).inc();
    child(latency, `${endpoint}|${record.stream}`, () => latency.labels(endpoint, String(record.stream))).observe(latencyMs / 1000);
    if (record.ttftMs !== null) ttft.observe(record.ttftMs / 1000);
    if (record.promptTokens) child(tokens, `prompt|${record.countedBy}`, () => tokens.labels('prompt', record.countedBy)).inc(record.promptTokens);
    if (record.completionTokens) child(tokens, `completion|${record.countedBy}`, () => tokens.labels('completion', record.countedBy)).inc(record.completionTokens);
    this.repository.record(event);
  }
}
