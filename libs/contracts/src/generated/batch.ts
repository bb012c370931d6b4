/* Generated from proto/batch/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * Batch work not yet done, per model, as a gateway sees it in the batch tables: demand that can wait until its deadline. Published every few seconds while any batch is queued or running, and once more when none is.
 */
export interface BatchBacklogReported {
  reportedAt: string;
  models: {
    model: string;
    /**
     * Requests of validating and in-progress batches without a result yet
     */
    requests: number;
    /**
     * Estimated prompt tokens of those requests
     */
    inputTokens: number;
    batches: number;
    /**
     * Earliest expires_at of those batches
     */
    deadline: string | null;
  }[];
}

export interface BatchListReply {
  batches: {
    id: string;
    userEmail: string;
    /**
     * Prefix of the API key that created it
     */
    keyPrefix: string;
    endpoint: string;
    status:
      'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';
    total: number;
    /**
     * Requests answered with a 2xx
     */
    completed: number;
    /**
     * Requests answered otherwise, or not run (expired)
     */
    failed: number;
    createdAt: string;
    expiresAt: string;
    /**
     * When it completed, failed, expired or was cancelled
     */
    finishedAt: string | null;
  }[];
}

/**
 * Batches with their progress, newest first: one user's (by e-mail, the owner of the keys that created them), or everyone's when userEmail is absent (administrators).
 */
export interface BatchListRequest {
  userEmail?: string;
  /**
   * At most this many (default 100)
   */
  limit?: number;
}

/**
 * One request line of a batch, waiting on the batch work queue; the body stays in the input file. Idempotent by (batchId, line).
 */
export interface BatchRequestQueued {
  batchId: string;
  /**
   * 1-based line of the request in the input file
   */
  line: number;
  customId: string;
}
