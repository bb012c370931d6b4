import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors';

/**
 * Where `maas sim-engine` and `maas llama-engine` read the key they demand (vLLM's --api-key): the
 * environment, never a flag, since any user of the host can list a command line.
 */
export const RUNTIME_KEY_ENV = 'MAAS_RUNTIME_API_KEY';

/** Paths a runtime started with a key still answers without it, as vLLM does: probes, not work. */
export const OPEN_RUNTIME_PATHS: readonly string[] = ['/health', '/metrics'];

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Why a runtime started with `key` (vLLM's --api-key) refuses a request to `path` with this
 * `Authorization` header, or undefined when it is served. vLLM answers 401 `{"error":"Unauthorized"}`;
 * ours is the same status in OpenAI's error shape. Digests of equal length compared in constant time;
 * neither the key nor what was presented is in the message.
 */
export function runtimeKeyRefusal(path: string, authorization: string | undefined, key: string): ApiError | undefined {
  if (OPEN_RUNTIME_PATHS.includes(path)) return undefined;
  const presented = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
  const challenge = { 'WWW-Authenticate': 'Bearer' };
  if (!presented)
    return new ApiError(
      401,
      'this runtime demands its key: Authorization: Bearer <key>',
      'authentication_error',
      null,
      'missing_runtime_key',
      challenge,
    );
  if (!timingSafeEqual(digest(presented), digest(key)))
    return new ApiError(
      401,
      'the key presented is not the one this runtime demands',
      'authentication_error',
      null,
      'invalid_runtime_key',
      challenge,
    );
  return undefined;
}
