/* Generated from proto/usage/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

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
  ttftMs?: number | null;
  latencyMs: number;
  startedAt: string;
  finishedAt: string;
}
