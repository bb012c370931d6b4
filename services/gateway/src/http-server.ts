import type { Server } from 'node:http';
import { ConfigError, env, loadConfig } from '@maas/config';

/**
 * Connection hygiene of the gateway's HTTP server: slow or idle clients cannot hold connections for
 * long, and one gateway holds a bounded number of them. None of these cut a response in progress:
 * a stream runs for as long as the runtime produces it (GATEWAY_TOTAL_TIMEOUT bounds that).
 */
export const httpServerConfigSpec = {
  /** Until a request's headers have all arrived; then 408 and the connection closes. */
  GATEWAY_HEADERS_TIMEOUT: env.duration('10s'),
  /** Until the whole request (headers and body) has arrived: uploads must finish within it (160 MiB at ~11 Mbit/s). */
  GATEWAY_REQUEST_TIMEOUT: env.duration('2m'),
  /** An idle kept-alive connection closes after this long without a new request. */
  GATEWAY_KEEPALIVE_TIMEOUT: env.duration('5s'),
  /** Open connections per gateway; beyond it new connections are closed at once. */
  GATEWAY_MAX_CONNECTIONS: env.int(4096, 1, 1_000_000),
};
export type HttpServerConfig = ReturnType<typeof loadHttpServerConfig>;

export function loadHttpServerConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(httpServerConfigSpec, source);
  if (config.GATEWAY_REQUEST_TIMEOUT < config.GATEWAY_HEADERS_TIMEOUT) {
    throw new ConfigError('GATEWAY_REQUEST_TIMEOUT must be at least GATEWAY_HEADERS_TIMEOUT');
  }
  return config;
}

/** Applies the limits; call before the server listens (Node starts its timeout checks on `listening`). */
export function applyConnectionLimits(server: Server, config: HttpServerConfig): void {
  server.headersTimeout = config.GATEWAY_HEADERS_TIMEOUT;
  server.requestTimeout = config.GATEWAY_REQUEST_TIMEOUT;
  server.keepAliveTimeout = config.GATEWAY_KEEPALIVE_TIMEOUT;
  server.maxConnections = config.GATEWAY_MAX_CONNECTIONS;
  // Node checks those timeouts on this interval (30 s by default): check often enough to honour them.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    100,
    Math.min(1000, Math.floor(config.GATEWAY_HEADERS_TIMEOUT / 4)),
  );
}
