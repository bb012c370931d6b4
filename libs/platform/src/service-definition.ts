import { DatabaseDefinition } from '@maas/database';

export const SERVICE_NAMES = ['gateway', 'auth', 'key-registry', 'router', 'metrics-collector', 'vm-scaler', 'forecaster'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Default HTTP ports; `<SERVICE>_PORT` (e.g. KEY_REGISTRY_PORT) overrides, 0 picks a free one. */
export const DEFAULT_PORTS: Record<ServiceName, number> = {
  gateway: 8080,
  auth: 8081,
  'key-registry': 8082,
  router: 8083,
  'metrics-collector': 8084,
  'vm-scaler': 8085,
  forecaster: 8086,
};

export function portVariable(service: ServiceName): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_PORT`;
}

export interface ServiceDefinition {
  name: ServiceName;
  description: string;
  /** Present when the service keeps state in PostgreSQL. */
  database?: DatabaseDefinition;
}

export const SERVICE_DEFINITION = Symbol('SERVICE_DEFINITION');
export const PLATFORM_CONFIG = Symbol('PLATFORM_CONFIG');
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
