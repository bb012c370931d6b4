import { env, loadConfig } from '@maas/config';

export const routerConfigSpec = {
  /** A worker silent this long is removed (heartbeats come every 1–2 s). */
  WORKER_EXPIRY_MS: env.duration('5s'),
  EXPIRY_SWEEP_MS: env.duration('500ms'),
};
export type RouterConfig = ReturnType<typeof loadRouterConfig>;
export const loadRouterConfig = () => loadConfig(routerConfigSpec);
export const ROUTER_CONFIG = Symbol('ROUTER_CONFIG');
