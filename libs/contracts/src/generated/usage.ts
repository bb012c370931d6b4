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
  requestId: string;
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
