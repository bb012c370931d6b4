import { env, loadConfig } from '@maas/config';
import { DEFAULT_ROUTING_PRESET, routingPresets } from '@maas/routing';

const PRESETS = Object.keys(routingPresets) as (keyof typeof routingPresets)[];

/** Every knob of the gateway, read once at start-up; a bad value fails the start naming the variable. */
export const gatewayConfigSpec = {
  /** Largest request body accepted on /v1 (base64 images and audio travel inside JSON). */
  GATEWAY_MAX_BODY_BYTES: env.int(32 * 1024 * 1024, 1024),
  /** How long a request waits for capacity that is starting (or recently served the model) before 503. */
  GATEWAY_HOLD_TIMEOUT: env.duration('30s'),
  /** A model served within this window counts as "known": requests for it are held, not answered 404. */
  GATEWAY_MODEL_MEMORY: env.duration('10m'),
  /** Routing preset of @maas/routing. */
  GATEWAY_ROUTING: env.oneOf(PRESETS, DEFAULT_ROUTING_PRESET),
  /** A worker the gateway has not heard from for this long is dropped from the local replica. */
  GATEWAY_WORKER_EXPIRY: env.duration('5s'),
  /** After a connection failure, routing avoids the worker this long. */
  GATEWAY_WORKER_FAILURE_BACKOFF: env.duration('10s'),
  /** Attempts per request across workers when connecting fails before any response byte. */
  GATEWAY_UPSTREAM_ATTEMPTS: env.int(3, 1, 10),
  GATEWAY_CONNECT_TIMEOUT: env.duration('5s'),
  /** Until the runtime sends response headers (streams: the start of the stream; non-streams: bounded by the total). */
  GATEWAY_FIRST_BYTE_TIMEOUT: env.duration('10m'),
  /** Longest silence between two chunks of a response. */
  GATEWAY_IDLE_TIMEOUT: env.duration('5m'),
  /** Whole request, including generation: long requests are allowed. */
  GATEWAY_TOTAL_TIMEOUT: env.duration('30m'),
  /** Valid keys are re-checked with key-registry after this long. */
  GATEWAY_KEY_CACHE_TTL: env.duration('30s'),
  /** Invalid keys are answered locally for this long. */
  GATEWAY_KEY_NEGATIVE_TTL: env.duration('5s'),
  /** When key-registry cannot be reached, a key validated within this window is still accepted. */
  GATEWAY_KEY_STALE_GRACE: env.duration('5m'),
  GATEWAY_KEY_VERIFY_TIMEOUT: env.duration('2s'),
  /** Usage events waiting for NATS are kept up to this many; beyond, the oldest are dropped (and logged). */
  GATEWAY_USAGE_BUFFER: env.int(100_000, 100),
  /** On shutdown, in-flight requests get this long to finish before they are cut. */
  GATEWAY_SHUTDOWN_GRACE: env.duration('8s'),
};

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
export const loadGatewayConfig = () => loadConfig(gatewayConfigSpec);
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
