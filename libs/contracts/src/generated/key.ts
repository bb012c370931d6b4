/* Generated from proto/key/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * A key stopped being valid; every gateway drops it from its cache.
 */
export interface KeyRevoked {
  keyId: string;
  /**
   * Visible prefix of the key, the gateways' cache index
   */
  prefix: string;
  revokedAt: string;
}

/**
 * key-registry's answer: the key's identity and limits when valid, the reason when not.
 */
export interface KeyVerifyReply {
  valid: boolean;
  reason?: 'unknown' | 'revoked' | 'expired';
  key?: {
    keyId: string;
    userId: string;
    userEmail?: string;
    name?: string;
    prefix: string;
    /**
     * Glob patterns; empty = every model
     */
    allowedModels: string[];
    expiresAt?: string | null;
    /**
     * May attribute usage to forwarded end users (Open WebUI service key)
     */
    trusted: boolean;
    allowedCidrs?: string[];
    limits: {
      requestsPerMinute?: number | null;
      tokensPerMinute?: number | null;
      maxConcurrent?: number | null;
      chatShortWindowTokens?: number | null;
      chatLongWindowTokens?: number | null;
      batchShortWindowTokens?: number | null;
      batchLongWindowTokens?: number | null;
    };
  };
}

/**
 * Ask key-registry whether a presented API key is valid.
 */
export interface KeyVerifyRequest {
  key: string;
}
