/**
 * Every NATS subject and JetStream stream of the platform, and the only place their names are written.
 *
 * Convention (STYLE.md §4): commands `<ns>.v1.<service>.<verb>` (request/reply, queue group = service),
 * events `<ns>.v1.<entity>.<past-tense-verb>`. `<ns>` is `maas` in production; tests use their own
 * namespace (`maas-t1a2b3c`) so concurrent runs on one NATS never see each other's messages.
 *
 * Events a worker sends about itself end in its id (`maas.v1.worker.registered.gpu-node-7`), the
 * payload field named by `keyedBy`: NATS permissions then let a worker's credential publish for its
 * own id only, and consumers subscribe with a wildcard and drop a message whose id differs from it.
 */
export const MESSAGE_KINDS = {
  'worker.registered': { kind: 'event', schema: 'worker/v1/worker-registered', keyedBy: 'workerId' },
  'worker.heartbeat': { kind: 'event', schema: 'worker/v1/worker-heartbeat', keyedBy: 'workerId' },
  'worker.draining': { kind: 'event', schema: 'worker/v1/worker-draining', keyedBy: 'workerId' },
  'worker.deregistered': { kind: 'event', schema: 'worker/v1/worker-deregistered', keyedBy: 'workerId' },
  'router.list-workers': { kind: 'command', schema: 'worker/v1/registry-list-request', reply: 'worker/v1/registry-snapshot' },
  'key-registry.verify': { kind: 'command', schema: 'key/v1/key-verify-request', reply: 'key/v1/key-verify-reply' },
  'key-registry.create': { kind: 'command', schema: 'key/v1/key-create-request', reply: 'key/v1/key-created' },
  'key-registry.list': { kind: 'command', schema: 'key/v1/key-list-request', reply: 'key/v1/key-list-reply' },
  'key-registry.revoke': { kind: 'command', schema: 'key/v1/key-revoke-request', reply: 'key/v1/key-summary' },
  'key.revoked': { kind: 'event', schema: 'key/v1/key-revoked' },
  'auth.verify-session': { kind: 'command', schema: 'auth/v1/session-verify-request', reply: 'auth/v1/session-verify-reply' },
  'auth.list-users': { kind: 'command', schema: 'auth/v1/user-list-request', reply: 'auth/v1/user-list-reply' },
  'auth.update-user': { kind: 'command', schema: 'auth/v1/user-update-request', reply: 'auth/v1/user-summary' },
  'auth.list-disabled-accounts': {
    kind: 'command',
    schema: 'auth/v1/disabled-account-list-request',
    reply: 'auth/v1/disabled-account-list-reply',
  },
  'account.status-changed': { kind: 'event', schema: 'auth/v1/account-status-changed' },
  'usage.request-completed': { kind: 'event', schema: 'usage/v1/request-completed' },
  'usage.requests-completed': { kind: 'event', schema: 'usage/v1/requests-completed' },
  'metrics-collector.key-usage': { kind: 'command', schema: 'usage/v1/key-usage-request', reply: 'usage/v1/key-usage-reply' },
  'metrics-collector.user-usage': { kind: 'command', schema: 'usage/v1/user-usage-request', reply: 'usage/v1/user-usage-reply' },
  'metrics-collector.list-dead-letters': {
    kind: 'command',
    schema: 'usage/v1/usage-dead-letter-list-request',
    reply: 'usage/v1/usage-dead-letter-list-reply',
  },
  'metrics-collector.redrive-usage': { kind: 'command', schema: 'usage/v1/usage-redrive-request', reply: 'usage/v1/usage-redrive-reply' },
  'metric.aggregated': { kind: 'event', schema: 'metrics/v1/metric-aggregated' },
  'forecast.published': { kind: 'event', schema: 'forecast/v1/forecast-published' },
  'scaling.decided': { kind: 'event', schema: 'scaling/v1/scaling-decided' },
  'scaling.action-started': { kind: 'event', schema: 'scaling/v1/scaling-action' },
  'scaling.action-completed': { kind: 'event', schema: 'scaling/v1/scaling-action' },
  'scaling.action-failed': { kind: 'event', schema: 'scaling/v1/scaling-action' },
  'vm.state-changed': { kind: 'event', schema: 'scaling/v1/vm-state-changed' },
  'model.catalogue-published': { kind: 'event', schema: 'scaling/v1/model-catalogue-published' },
  'model.demand-pending': { kind: 'event', schema: 'scaling/v1/model-demand-pending' },
  'vm-scaler.list-models': { kind: 'command', schema: 'scaling/v1/model-catalogue-request', reply: 'scaling/v1/model-catalogue-published' },
  'vm-scaler.list-decisions': {
    kind: 'command',
    schema: 'scaling/v1/scaling-decision-list-request',
    reply: 'scaling/v1/scaling-decision-list-reply',
  },
  'batch.request-queued': { kind: 'event', schema: 'batch/v1/batch-request-queued' },
  'gateway.list-batches': { kind: 'command', schema: 'batch/v1/batch-list-request', reply: 'batch/v1/batch-list-reply' },
  'batch.backlog-reported': { kind: 'event', schema: 'batch/v1/batch-backlog-reported' },
} as const;

/** Logical message name, independent of namespace: `worker.heartbeat`, `key-registry.verify`, … */
export type MessageName = keyof typeof MESSAGE_KINDS;

export const MESSAGE_NAMES = Object.keys(MESSAGE_KINDS) as MessageName[];

/** The payload field whose value ends the subject of a keyed event (`workerId`), or undefined. */
export function subjectKeyOf(name: MessageName): string | undefined {
  return (MESSAGE_KINDS[name] as { keyedBy?: string }).keyedBy;
}

/** What may stand as the last token of a keyed subject: the proto's workerId pattern, which has no `.`, `*` or `>`. */
const SUBJECT_KEY_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** JetStream streams: what must be replayable or must not be lost. */
export const STREAMS = {
  usage: { name: 'USAGE', messages: ['usage.request-completed', 'usage.requests-completed'] as MessageName[] },
  scaling: {
    name: 'SCALING',
    messages: [
      'scaling.decided',
      'scaling.action-started',
      'scaling.action-completed',
      'scaling.action-failed',
      'vm.state-changed',
    ] as MessageName[],
  },
  /** Batch requests waiting to run: a work queue, so each is removed once an executor acks it. */
  'batch-work': { name: 'BATCH_WORK', messages: ['batch.request-queued'] as MessageName[], retention: 'workqueue' },
} as const;

export type StreamName = keyof typeof STREAMS;

const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** Subject and stream names of one namespace. */
export class Subjects {
  constructor(readonly namespace = 'maas') {
    if (!NAMESPACE_PATTERN.test(namespace)) {
      throw new Error(`subject namespace "${namespace}" must be lowercase letters, digits and "-" (at most 32)`);
    }
  }

  /**
   * The subject of a message. For a keyed event (`worker.*`), `key` is the sender's id; without it,
   * the wildcard every consumer subscribes to (`maas.v1.worker.registered.*`).
   */
  subject(name: MessageName, key?: string): string {
    const base = `${this.namespace}.v1.${name}`;
    if (!subjectKeyOf(name)) {
      if (key !== undefined) throw new Error(`${name} is not keyed; its subject takes no id`);
      return base;
    }
    if (key === undefined) return `${base}.*`;
    if (!SUBJECT_KEY_PATTERN.test(key))
      throw new Error(`${name}: ${JSON.stringify(key)} cannot end a subject (letters, digits, "_" and "-", at most 128)`);
    return `${base}.${key}`;
  }

  /** Maps a received subject back to its message name, or undefined when it is not one of ours. */
  nameOf(subject: string): MessageName | undefined {
    return this.parse(subject)?.name;
  }

  /** A received subject's message name and, for a keyed event, the id it ends in. */
  parse(subject: string): { name: MessageName; key?: string } | undefined {
    const prefix = `${this.namespace}.v1.`;
    if (!subject.startsWith(prefix)) return undefined;
    const rest = subject.slice(prefix.length);
    if (rest in MESSAGE_KINDS) return subjectKeyOf(rest as MessageName) ? undefined : { name: rest as MessageName };
    const dot = rest.lastIndexOf('.');
    const name = rest.slice(0, dot) as MessageName;
    const key = rest.slice(dot + 1);
    if (dot < 0 || !(name in MESSAGE_KINDS) || !subjectKeyOf(name) || !SUBJECT_KEY_PATTERN.test(key)) return undefined;
    return { name, key };
  }

  stream(stream: StreamName): string {
    return `${this.namespace.replace(/-/g, '_').toUpperCase()}_${STREAMS[stream].name}`;
  }

  streamSubjects(stream: StreamName): string[] {
    return STREAMS[stream].messages.map((m) => this.subject(m));
  }
}
