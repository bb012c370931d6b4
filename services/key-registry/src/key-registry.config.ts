import { ConfigError, env, loadConfig } from '@maas/config';

export const DEV_KEY_SECRET = 'open-maas-development-secret-change-me';

export const keyRegistryConfigSpec = {
  /** HMAC secret for stored key hashes; rotating it invalidates every key. */
  KEY_HASH_SECRET: env.string(DEV_KEY_SECRET),
  /** Bearer token of the admin HTTP API (/admin/keys); unset, the API answers 403. */
  KEY_REGISTRY_ADMIN_TOKEN: env.optionalString(),
  /** How often accounts disabled in auth are looked for, to stop their keys at every gateway. */
  KEY_ACCOUNT_POLL: env.duration('5s'),
  /** Where the service listens (HTTP) and the NATS it answers on: with the development secret, both must be loopback. */
  HOST: env.string('127.0.0.1'),
  NATS_URL: env.string('nats://127.0.0.1:4222'),
};

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i;

/** Whether a host name or address is this machine's loopback. */
export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host.trim());
}

/** The NATS servers' hosts (NATS_URL may list several, comma-separated). */
function natsHosts(natsUrl: string): string[] {
  return natsUrl.split(',').map((u) => {
    try {
      return new URL(u.trim()).hostname;
    } catch {
      return u.trim();
    }
  });
}

export function loadKeyRegistryConfig(source: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(keyRegistryConfigSpec, source);
  if (config.KEY_HASH_SECRET === DEV_KEY_SECRET) {
    // Anyone with the source knows the default: hashes made with it protect nothing once other hosts can reach us.
    const exposed = [config.HOST, ...natsHosts(config.NATS_URL)].filter((h) => !isLoopback(h));
    if (exposed.length) {
      throw new ConfigError(
        `config: KEY_HASH_SECRET is the development default while listening beyond loopback (${exposed.join(', ')}); set KEY_HASH_SECRET to a long random secret (openssl rand -hex 32)`,
      );
    }
  }
  return config;
}
export type KeyRegistryConfig = ReturnType<typeof loadKeyRegistryConfig>;
export const KEY_REGISTRY_CONFIG = Symbol('KEY_REGISTRY_CONFIG');
