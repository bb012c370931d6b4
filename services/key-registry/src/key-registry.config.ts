import { env, loadConfig } from '@maas/config';

export const DEV_KEY_SECRET = 'open-maas-development-secret-change-me';

export const keyRegistryConfigSpec = {
  /** HMAC secret for stored key hashes; rotating it invalidates every key. */
  KEY_HASH_SECRET: env.string(DEV_KEY_SECRET),
  /** Bearer token of the admin HTTP API (/admin/keys); unset, the API answers 403. */
  KEY_REGISTRY_ADMIN_TOKEN: env.optionalString(),
};
export const loadKeyRegistryConfig = () => loadConfig(keyRegistryConfigSpec);
export type KeyRegistryConfig = ReturnType<typeof loadKeyRegistryConfig>;
export const KEY_REGISTRY_CONFIG = Symbol('KEY_REGISTRY_CONFIG');
