/* Generated from proto/batch/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

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
