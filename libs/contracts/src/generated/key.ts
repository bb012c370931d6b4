/* Generated from proto/key/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * Per-key ceilings; null or absent = unlimited
 */
export interface KeyLimits {
  requestsPerMinute?: number | null;
  tokensPerMinute?: number | null;
  maxConcurrent?: number | null;
  chatShortWindowTokens?: number | null;
  chatLongWindowTokens?: number | null;
  batchShortWindowTokens?: number | null;
  batchLongWindowTokens?: number | null;
}

/**
 * Create an API key for a user; the secret comes back once in the reply (sealed to sealTo when it is set) and is never stored.
 */
export interface KeyCreateRequest {
  userEmail: string;
  name?: string;
  /**
   * @maxItems 100
   */
  allowedModels?: string[];
  expiresAt?: string | null;
  trusted?: boolean;
  /**
   * @maxItems 100
   */
  allowedCidrs?: string[];
  limits?: KeyLimits;
  /**
   * The creator's one-time X25519 public key (base64url, newSealingKeys in @maas/contracts): the reply's secret comes sealed to it, so the new key never crosses the bus in clear
   */
  sealTo?: string;
}

/**
 * Reply to key-registry.create: the only time the secret is shown.
 */
export interface KeyCreated {
  /**
   * The new key, sealed to the request's sealTo (sealed-v1.…, opened with openSealedSecret) when it named one, else in clear (sk-…)
   */
  secret: string;
  key: KeySummary;
}

export interface KeyListReply {
  keys: KeySummary[];
}

/**
 * List keys, optionally of one user; revoked keys only when asked.
 */
export interface KeyListRequest {
  userEmail?: string;
  includeRevoked?: boolean;
}

/**
 * Revoke a key by id; with userEmail set, only if that user owns it.
 */
export interface KeyRevokeRequest {
  keyId: string;
  userEmail?: string;
}

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
 * What can be shown about a key after creation (never the secret).
 */
export interface KeySummary {
  keyId: string;
  prefix: string;
  userId: string;
  userEmail: string;
  name?: string | null;
  allowedModels: string[];
  allowedCidrs?: string[];
  trusted: boolean;
  /**
   * Stored before keys were verified by digest: refused by every gateway; its holder makes a new key
   */
  legacy?: boolean;
  limits?: KeyLimits;
  createdAt: string;
  expiresAt?: string | null;
  lastUsedAt?: string | null;
  revokedAt?: string | null;
}

/**
 * key-registry's answer: the key's identity and limits when valid, the reason when not.
 */
export interface KeyVerifyReply {
  valid: boolean;
  /**
   * legacy: the key was stored before keys were verified by digest and cannot be checked any more; its holder makes a new one
   */
  reason?: 'unknown' | 'revoked' | 'expired' | 'legacy';
  /**
   * Why the key is refused, for its holder, when the reason alone does not tell them what to do
   */
  message?: string;
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
    limits: KeyLimits;
  };
}

/**
 * Ask key-registry whether a presented API key is valid. The key itself never crosses the bus: only its visible prefix (to find the row) and keyDigest(key) from @maas/contracts, base64url(SHA-256("maas-key-v1:" + key)).
 */
export interface KeyVerifyRequest {
  /**
   * The 8 characters after sk- (not secret: shown in listings)
   */
  prefix: string;
  /**
   * keyDigest(key): base64url SHA-256 of the tagged key
   */
  digest: string;
}
