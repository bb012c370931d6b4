/* Generated from proto/common/v1 by scripts/gen-contracts.js; do not edit. */
/* eslint-disable */

/**
 * Reply to a request that could not be served (also flagged by the Nats-Service-Error headers).
 */
export interface ServiceError {
  error: {
    message: string;
    /**
     * invalid_message | internal_error | …
     */
    code: string;
  };
}
