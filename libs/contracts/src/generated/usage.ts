/* Generated from proto/usage/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * Prompt + completion tokens of a key recorded in the ledger since each asked instant, split by kind; `windows` follows the order of `since`.
 */
export interface KeyUsageReply {
  keyId: string;
  windows: {
    since: string;
    interactiveTokens: number;
    batchTokens: number;
  }[];
}

/**
 * Ask metrics-collector for a key's token totals from the ledger since each of several instants (the gateway seeds its window counters with them).
 */
export interface KeyUsageRequest {
  keyId: string;
  /**
   * @minItems 1
   * @maxItems 8
   */
  since: string[];
  /**
   * Count only requests finished before this instant (default: now); the gateway counts later ones itself
   */
  until?: string;
}

/**
 * Exactly one per API request, streamed or not, success or failure; idempotent by requestId.
 */
export interface RequestCompleted {
  /**
   * The gateway's own id of the request, never the client's
   */
  requestId: string;
  /**
   * The client's X-Request-Id, kept for tracing; not unique
   */
  clientRequestId?: string;
  keyId: string;
  userId: string;
  /**
   * User a trusted key acts for (Open WebUI)
   */
  endUser?: string;
  model: string;
  workerId?: string | null;
  endpoint: 'chat.completions' | 'completions' | 'embeddings' | 'audio.transcriptions' | 'ocr';
  kind: 'interactive' | 'batch';
  stream?: boolean;
  status: number;
  errorCode?: string | null;
  promptTokens: number;
  completionTokens: number;
  tokensCountedBy?: 'runtime' | 'gateway';
  /**
   * Seconds of audio transcribed (audio.transcriptions), as the runtime measured them; promptTokens bills them at 10 a second
   */
  audioSeconds?: number;
  ttftMs?: number | null;
  latencyMs: number;
  startedAt: string;
  finishedAt: string;
}

/**
 * A gateway's usage events in one message (at most 256, or what 50 ms gathered). Each record is idempotent by its event's requestId, so a batch stored twice, or regrouped after a retry, counts each request once. The envelope is checked here; each event is checked on its own against usage/v1/request-completed, so one bad record is set aside without refusing the rest.
 */
export interface RequestsCompleted {
  /**
   * @minItems 1
   * @maxItems 1024
   */
  records: {
    /**
     * A usage.request-completed (usage/v1/request-completed), validated record by record by the consumer
     */
    event: {
      requestId: string;
    };
    /**
     * W3C trace context of the request the event accounts, captured when it completed
     */
    traceparent?: string;
    tracestate?: string;
  }[];
}

export interface UsageDeadLetterListReply {
  /**
   * Dead letters stored, listed or not
   */
  total: number;
  deadLetters: UsageDeadLetter[];
}

/**
 * List the usage events the ledger refused, oldest first.
 */
export interface UsageDeadLetterListRequest {
  /**
   * At most this many (default 100)
   */
  limit?: number;
}

/**
 * A usage event the ledger refused for good (its values, not the database's availability), kept with the reason until redriven.
 */
export interface UsageDeadLetter {
  requestId: string;
  /**
   * The ledger's refusal: SQLSTATE or check, and message
   */
  reason: string;
  /**
   * Times the event was refused
   */
  deliveries: number;
  firstFailedAt: string;
  lastFailedAt: string;
  event: RequestCompleted;
}

export interface UsageRedriveReply {
  /**
   * Events now in the ledger (or found there already), removed from the dead letters
   */
  redriven: number;
  /**
   * Events the ledger refused again, with the new reason; they stay dead-lettered
   */
  refused: {
    requestId: string;
    reason: string;
  }[];
  /**
   * Dead letters left afterwards
   */
  remaining: number;
}

/**
 * Put dead-lettered usage events back into the ledger (after a fix): the named ones, or the oldest `limit`.
 */
export interface UsageRedriveRequest {
  /**
   * @minItems 1
   * @maxItems 1000
   */
  requestIds?: string[];
  /**
   * At most this many (default 1000)
   */
  limit?: number;
}

/**
 * A user's requests and tokens per day (in the asked time zone) and kind, oldest day first; days without requests are left out.
 */
export interface UserUsageReply {
  userEmail: string;
  days: {
    day: string;
    kind: 'interactive' | 'batch';
    requests: number;
    promptTokens: number;
    completionTokens: number;
  }[];
}

/**
 * Ask metrics-collector for one user's usage per day and kind since an instant: what their own keys did plus what a trusted service key (Open WebUI) did on their behalf (the portal's chart).
 */
export interface UserUsageRequest {
  userEmail: string;
  since: string;
  /**
   * IANA zone the days are counted in (Asia/Tokyo)
   */
  timeZone: string;
}
