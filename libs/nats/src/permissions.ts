import { MessageName, StreamName, Subjects } from '@maas/contracts';
import { bucketNameOf } from './bus';
import { inboxPrefixFor } from './connection';

/**
 * Who may publish and subscribe what on NATS: one role per platform part, each allowed only the
 * subjects its handlers and repositories use. Pure: the server config (server-config.ts) renders it.
 */
export const SERVICE_ROLES = ['gateway', 'auth', 'key-registry', 'router', 'metrics-collector', 'vm-scaler', 'forecaster'] as const;
export type ServiceRole = (typeof SERVICE_ROLES)[number];
export type Role = ServiceRole | 'worker' | 'cli-admin' | 'cli-readonly';

export interface Identity {
  /** `gateway`, `worker-gpu-node-7`, `cli-admin`: unique, and the name of its seed file. */
  readonly name: string;
  readonly role: Role;
  /** The nkey's public key (`U…`): all the server keeps of the credential. */
  readonly publicKey: string;
  /** For a worker: the worker ids it may speak for (subjects end in them). */
  readonly workerIds?: readonly string[];
  /** For a worker: the node it was issued for. */
  readonly node?: string;
  readonly issuedAt: string;
}

export interface Permissions {
  readonly publish: { readonly allow: string[]; readonly deny?: string[] };
  readonly subscribe: { readonly allow: string[]; readonly deny?: string[] };
  /** May reply to the requests it received (and only to those, once each). */
  readonly allow_responses?: boolean;
}

interface RoleGrant {
  /** Commands it answers and events it consumes (subscribe). */
  readonly receives: readonly MessageName[];
  /** Commands it sends and events it publishes (publish). */
  readonly sends: readonly MessageName[];
  /** Streams it reads with a durable consumer. */
  readonly consumes?: readonly StreamName[];
  /** KV buckets it reads and writes (MessageBus.keyValue). */
  readonly keyValues?: readonly string[];
  /** Object stores it reads and writes (MessageBus.objectStore). */
  readonly objectStores?: readonly string[];
}

/** What each service's handlers (@On) and repositories (bus.request/publish/persist) use. */
const SERVICE_GRANTS: Record<ServiceRole, RoleGrant> = {
  'key-registry': {
    receives: ['key-registry.verify', 'key-registry.create', 'key-registry.list', 'key-registry.revoke', 'account.status-changed'],
    sends: ['key.revoked', 'auth.list-disabled-accounts'],
  },
  auth: {
    receives: ['auth.verify-session', 'auth.list-users', 'auth.update-user', 'auth.list-disabled-accounts'],
    sends: [
      'gateway.list-batches',
      'key-registry.list',
      'key-registry.create',
      'key-registry.revoke',
      'router.list-workers',
      'metrics-collector.user-usage',
      'account.status-changed',
    ],
  },
  router: {
    receives: ['router.list-workers', 'worker.registered', 'worker.heartbeat', 'worker.draining', 'worker.deregistered'],
    // It announces workers it expired; any worker id, as it speaks about workers, not for them.
    sends: ['worker.deregistered'],
  },
  gateway: {
    receives: [
      'gateway.list-batches',
      'key.revoked',
      'model.catalogue-published',
      'worker.registered',
      'worker.heartbeat',
      'worker.draining',
      'worker.deregistered',
    ],
    sends: [
      'key-registry.verify',
      'auth.verify-session',
      'router.list-workers',
      'vm-scaler.list-models',
      'metrics-collector.key-usage',
      'usage.request-completed',
      'usage.requests-completed',
      'batch.request-queued',
      'batch.backlog-reported',
      'model.demand-pending',
    ],
    consumes: ['batch-work'],
    // Limits shared by every gateway; batch files any gateway serves.
    keyValues: ['key-limits'],
    objectStores: ['batch-files'],
  },
  'metrics-collector': {
    receives: [
      'metrics-collector.key-usage',
      'metrics-collector.user-usage',
      'metrics-collector.list-dead-letters',
      'metrics-collector.redrive-usage',
      'worker.registered',
      'worker.heartbeat',
      'worker.deregistered',
      'batch.backlog-reported',
      'model.demand-pending',
    ],
    sends: ['metric.aggregated'],
    consumes: ['usage'],
  },
  forecaster: { receives: ['metric.aggregated'], sends: ['forecast.published'] },
  'vm-scaler': {
    receives: [
      'vm-scaler.list-models',
      'vm-scaler.list-decisions',
      'forecast.published',
      'metric.aggregated',
      'model.demand-pending',
      'worker.registered',
      'worker.heartbeat',
      'worker.draining',
      'worker.deregistered',
    ],
    sends: [
      'scaling.decided',
      'scaling.action-started',
      'scaling.action-completed',
      'scaling.action-failed',
      'vm.state-changed',
      'model.catalogue-published',
    ],
  },
};

const WORKER_EVENTS: readonly MessageName[] = ['worker.registered', 'worker.heartbeat', 'worker.draining', 'worker.deregistered'];
const ADMIN_COMMANDS: readonly MessageName[] = [
  'key-registry.create',
  'key-registry.list',
  'key-registry.revoke',
  'key-registry.verify',
  'auth.list-users',
  'auth.update-user',
  'auth.list-disabled-accounts',
  'metrics-collector.key-usage',
  'metrics-collector.user-usage',
  'metrics-collector.list-dead-letters',
  'metrics-collector.redrive-usage',
  'router.list-workers',
  'gateway.list-batches',
  'vm-scaler.list-decisions',
];
const READ_ONLY_COMMANDS: readonly MessageName[] = [
  'key-registry.list',
  'auth.list-users',
  'metrics-collector.key-usage',
  'metrics-collector.user-usage',
  'metrics-collector.list-dead-letters',
  'router.list-workers',
  'gateway.list-batches',
  'vm-scaler.list-decisions',
];

/** JetStream API subjects to create, inspect and update a stream (every service makes sure the streams exist at start-up). */
const streamUpkeep = (stream: string) => [
  `$JS.API.STREAM.INFO.${stream}`,
  `$JS.API.STREAM.CREATE.${stream}`,
  `$JS.API.STREAM.UPDATE.${stream}`,
];
/** JetStream API subjects to create and read a durable consumer of a stream and ack its messages; deleting it is not among them. */
const streamConsumer = (stream: string) => [
  `$JS.API.CONSUMER.*.${stream}`,
  `$JS.API.CONSUMER.*.${stream}.>`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
  `$JS.ACK.${stream}.>`,
];

/** Everything a KV bucket or object store needs, on its own stream only: create, read, write, watch, delete entries. */
const storeAccess = (stream: string, data: string) => [
  `$JS.API.STREAM.*.${stream}`,
  `$JS.API.STREAM.MSG.*.${stream}`,
  `$JS.API.DIRECT.GET.${stream}`,
  `$JS.API.DIRECT.GET.${stream}.>`,
  ...streamConsumer(stream),
  data,
];

export function permissionsFor(identity: Identity, namespace: string): Permissions {
  const subjects = new Subjects(namespace);
  const inbox = `${inboxPrefixFor(identity.publicKey)}.>`;
  const streams = (['usage', 'scaling', 'batch-work'] as StreamName[]).map((s) => subjects.stream(s));
  switch (identity.role) {
    case 'worker':
      return {
        // `subject(name)` without an id is the wildcard: a credential issued for any worker id.
        publish: {
          allow: (identity.workerIds ?? []).flatMap((id) =>
            WORKER_EVENTS.map((name) => subjects.subject(name, id === '*' ? undefined : id)),
          ),
        },
        subscribe: { allow: [] },
      };
    case 'cli-admin':
      return {
        publish: { allow: [...ADMIN_COMMANDS.map((n) => subjects.subject(n)), '$JS.API.>', '$JS.ACK.>', '$SRV.>'] },
        subscribe: { allow: [inbox] },
      };
    case 'cli-readonly':
      return {
        publish: {
          allow: [
            ...READ_ONLY_COMMANDS.map((n) => subjects.subject(n)),
            // Service discovery: `nats micro ls|info|stats`.
            '$SRV.>',
            '$JS.API.INFO',
            '$JS.API.STREAM.NAMES',
            '$JS.API.STREAM.LIST',
            '$JS.API.STREAM.INFO.*',
            // `maas scaling` replays the scaling records through a consumer of its own.
            ...streamConsumer(subjects.stream('scaling')),
          ],
          deny: ['$JS.API.CONSUMER.DELETE.>'],
        },
        subscribe: { allow: [inbox] },
      };
    default: {
      const grant = SERVICE_GRANTS[identity.role];
      const name = identity.role;
      return {
        publish: {
          allow: [
            ...grant.sends.map((n) => subjects.subject(n)),
            // Account limits and stream names (finding a stream by subject): names only, no content.
            '$JS.API.INFO',
            '$JS.API.STREAM.NAMES',
            ...streams.flatMap(streamUpkeep),
            ...(grant.consumes ?? []).flatMap((s) => streamConsumer(subjects.stream(s))),
            ...(grant.keyValues ?? []).map((b) => bucketNameOf(namespace, b)).flatMap((b) => storeAccess(`KV_${b}`, `$KV.${b}.>`)),
            ...(grant.objectStores ?? []).map((b) => bucketNameOf(namespace, b)).flatMap((b) => storeAccess(`OBJ_${b}`, `$O.${b}.>`)),
          ],
          // The platform's streams and their durable consumers outlive any one service.
          deny: ['$JS.API.STREAM.DELETE.>', ...streams.flatMap((s) => [`$JS.API.STREAM.PURGE.${s}`, `$JS.API.CONSUMER.DELETE.${s}.>`])],
        },
        subscribe: {
          // Discovery of the NATS service each one runs ($SRV.PING|INFO|STATS, by name and id).
          allow: [...grant.receives.map((n) => subjects.subject(n)), inbox, '$SRV.*', `$SRV.*.${name}`, `$SRV.*.${name}.*`],
        },
        allow_responses: true,
      };
    }
  }
}
