import { createHmac } from 'node:crypto';

/**
 * The key a worker's runtime demands (vLLM's --api-key), derived from a secret that the workers and
 * gateways of one installation share (MAAS_WORKER_KEY_SECRET) and the worker's id: each runtime has
 * its own key, and no key ever travels over NATS. A gateway derives the same key for the worker it
 * routes to.
 */
export function runtimeKeyFor(secret: string, workerId: string): string {
  return createHmac('sha256', secret).update(`maas-runtime-key/v1/${workerId}`).digest('base64url');
}

/** The shortest shared secret accepted: 128 bits as hex, or more as anything. */
export const MIN_WORKER_KEY_SECRET_LENGTH = 32;
