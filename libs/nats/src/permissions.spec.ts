import { MESSAGE_NAMES, Subjects } from '@maas/contracts';
import { Identity, permissionsFor, Role, SERVICE_ROLES } from './permissions';

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const ns = 'maas';
const subjects = new Subjects(ns);
const identity = (role: Role, extra: Partial<Identity> = {}): Identity => ({
  name: role,
  role,
  publicKey: `U${role.toUpperCase()}`,
  issuedAt: 'now',
  ...extra,
});
const ROLES: Identity[] = [
  ...SERVICE_ROLES.map((r) => identity(r)),
  identity('cli-admin'),
  identity('cli-readonly'),
  identity('worker', { name: 'worker-gpu-node-7', workerIds: ['gpu-node-7'] }),
];

function may(who: Identity, action: 'publish' | 'subscribe', subject: string): boolean {
  const p = permissionsFor(who, ns)[action];
  return p.allow.some((a) => matches(a, subject)) && !(p.deny ?? []).some((d) => matches(d, subject));
}
const whoMay = (action: 'publish' | 'subscribe', subject: string) =>
  ROLES.filter((r) => may(r, action, subject))
    .map((r) => r.name)
    .sort();

describe('NATS permissions', () => {
  it.each([
    ['subscribe', subjects.subject('key-registry.verify'), ['key-registry']],
    ['subscribe', subjects.subject('key-registry.create'), ['key-registry']],
    ['subscribe', subjects.subject('auth.verify-session'), ['auth']],
    ['publish', subjects.subject('key-registry.create'), ['auth', 'cli-admin']],
    ['publish', subjects.subject('key-registry.verify'), ['cli-admin', 'gateway']],
    ['publish', subjects.subject('key.revoked'), ['key-registry']],
    // Only auth says an account is disabled; only key-registry acts on it, and asks auth for the list.
    ['publish', subjects.subject('account.status-changed'), ['auth']],
    ['subscribe', subjects.subject('account.status-changed'), ['key-registry']],
    ['publish', subjects.subject('auth.list-disabled-accounts'), ['cli-admin', 'key-registry']],
    ['subscribe', subjects.subject('auth.list-disabled-accounts'), ['auth']],
    ['publish', subjects.subject('metrics-collector.user-usage'), ['auth', 'cli-admin', 'cli-readonly']],
    ['subscribe', subjects.subject('metrics-collector.user-usage'), ['metrics-collector']],
    ['publish', subjects.subject('vm-scaler.list-decisions'), ['cli-admin', 'cli-readonly']],
    ['subscribe', subjects.subject('vm-scaler.list-decisions'), ['vm-scaler']],
    ['publish', subjects.subject('scaling.decided'), ['vm-scaler']],
    ['publish', subjects.subject('vm.state-changed'), ['vm-scaler']],
    ['publish', subjects.subject('worker.registered', 'gpu-node-7'), ['worker-gpu-node-7']],
    ['publish', subjects.subject('worker.registered', 'gpu-node-8'), []],
    ['publish', subjects.subject('worker.deregistered', 'gpu-node-8'), ['router']],
    ['publish', subjects.subject('usage.request-completed'), ['gateway']],
    ['publish', '$JS.API.STREAM.DELETE.MAAS_USAGE', ['cli-admin']],
    ['publish', '$JS.API.STREAM.PURGE.MAAS_USAGE', ['cli-admin']],
    ['publish', '$JS.API.CONSUMER.DELETE.MAAS_USAGE.metrics-collector', ['cli-admin']],
    ['publish', '$JS.API.CONSUMER.CREATE.MAAS_USAGE.metrics-collector.maas.v1.usage.request-completed', ['cli-admin', 'metrics-collector']],
    ['publish', '$JS.API.CONSUMER.MSG.NEXT.MAAS_USAGE.metrics-collector', ['cli-admin', 'metrics-collector']],
    ['publish', '$JS.API.CONSUMER.MSG.NEXT.MAAS_BATCH_WORK.gateway-batch-executor', ['cli-admin', 'gateway']],
    ['publish', '$JS.ACK.MAAS_USAGE.metrics-collector.1.2.3.4.5', ['cli-admin', 'metrics-collector']],
    ['publish', '$KV.MAAS_KEY_LIMITS.k-1', ['gateway']],
    ['publish', '$JS.API.STREAM.CREATE.KV_MAAS_KEY_LIMITS', ['cli-admin', 'gateway']],
    ['publish', '$JS.API.DIRECT.GET.KV_MAAS_KEY_LIMITS.$KV.MAAS_KEY_LIMITS.k-1', ['cli-admin', 'gateway']],
    ['publish', '$O.MAAS_BATCH_FILES.C.abc', ['gateway']],
    ['publish', '$JS.API.STREAM.PURGE.OBJ_MAAS_BATCH_FILES', ['cli-admin', 'gateway']],
    ['publish', '$JS.API.STREAM.DELETE.OBJ_MAAS_BATCH_FILES', ['cli-admin']],
    ['publish', '$JS.API.STREAM.LIST', ['cli-admin', 'cli-readonly']],
    ['subscribe', '_INBOX.UGATEWAY.abc', ['gateway']],
  ] as const)('%s %s: only %j', (action, subject, roles) => {
    expect(whoMay(action, subject)).toEqual([...roles].sort());
  });

  it('lets a worker do nothing but speak for its own ids', () => {
    const w = permissionsFor(identity('worker', { workerIds: ['a', 'b'] }), ns);
    expect(w.publish.allow.sort()).toEqual(
      ['registered', 'heartbeat', 'draining', 'deregistered'].flatMap((v) => ['a', 'b'].map((id) => `maas.v1.worker.${v}.${id}`)).sort(),
    );
    expect(w.subscribe).toEqual({ allow: [] });
    expect(w.allow_responses).toBeUndefined();
  });

  it('gives no one but the operators’ admin and the services in play any command of another service', () => {
    for (const name of MESSAGE_NAMES.filter((n) => n.startsWith('auth.') || n.startsWith('key-registry.'))) {
      expect(whoMay('publish', subjects.subject(name))).not.toContain('worker-gpu-node-7');
      expect(whoMay('publish', subjects.subject(name))).not.toContain('forecaster');
    }
  });

  it('keeps the read-only operator identity from changing anything', () => {
    const ro = ROLES.find((r) => r.role === 'cli-readonly')!;
    for (const name of ['key-registry.create', 'key-registry.revoke', 'auth.update-user', 'metrics-collector.redrive-usage'] as const) {
      expect(may(ro, 'publish', subjects.subject(name))).toBe(false);
    }
    expect(may(ro, 'publish', subjects.subject('key-registry.list'))).toBe(true);
    expect(may(ro, 'publish', '$JS.API.STREAM.DELETE.MAAS_SCALING')).toBe(false);
  });
});
