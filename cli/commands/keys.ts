import { parseArgs } from 'node:util';
import { connect, NatsConnection } from 'nats';
import { KeyLimits, KeySummary, Subjects } from '@maas/contracts';
import { loadConfig, platformConfigSpec } from '@maas/config';
import { MessageBus } from '@maas/nats';
import { Command } from '../command';

const usage = `usage: maas keys <create|list|revoke> [options]

API keys, through key-registry over NATS.

  maas keys create --user EMAIL [--name NAME] [--models a,b*] [--expires ISO-TIME]
                   [--rpm N] [--tpm N] [--concurrency N] [--trusted] [--cidrs 10.0.0.0/8,…]
      creates a key and prints its secret (shown this once) on the first line, then its id
  maas keys list [--user EMAIL] [--all] [--json]
      one key per line: id, prefix, user, models, state; --all includes revoked keys
  maas keys revoke ID [--user EMAIL]
      revokes the key; every gateway stops accepting it within a second

environment: NATS_URL (default nats://127.0.0.1:4222), MAAS_NAMESPACE (default maas)
`;

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: expected a positive integer, got "${value}"`);
  return n;
}

const list = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);

function describe(k: KeySummary): string {
  const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt && Date.parse(k.expiresAt) <= Date.now() ? `expired ${k.expiresAt}` : 'active';
  const limits = Object.entries(k.limits ?? {})
    .filter(([, v]) => v != null)
    .map(([name, v]) => `${name}=${v}`);
  return [
    k.keyId,
    `sk-${k.prefix}_…`,
    k.userEmail,
    k.name ? `"${k.name}"` : '-',
    `models=${k.allowedModels.length ? k.allowedModels.join(',') : '*'}`,
    ...(limits.length ? [limits.join(',')] : []),
    ...(k.trusted ? ['trusted'] : []),
    state,
  ].join('  ');
}

async function withBus<T>(fn: (bus: MessageBus) => Promise<T>): Promise<T> {
  const config = loadConfig(platformConfigSpec);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: config.NATS_URL, name: 'maas-keys', timeout: 3000 });
  } catch (err) {
    throw new Error(`cannot reach NATS at ${config.NATS_URL}: ${(err as Error).message}`);
  }
  try {
    return await fn(new MessageBus(nc, new Subjects(config.MAAS_NAMESPACE)));
  } catch (err) {
    const message = (err as Error).message;
    if (/no responders|^503$|timeout/i.test(message)) {
      throw new Error(`key-registry is not answering on NATS (namespace ${config.MAAS_NAMESPACE}): ${message === '503' ? 'no responders' : message}`);
    }
    throw err;
  } finally {
    await nc.close();
  }
}

export const command: Command = {
  summary: 'create, list and revoke API keys',
  usage,
  async run(argv) {
    const [action, ...rest] = argv;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    if (action === 'create') {
      const { values, positionals } = parseArgs({
        args: rest,
        options: {
          user: { type: 'string' },
          name: { type: 'string' },
          models: { type: 'string' },
          expires: { type: 'string' },
          rpm: { type: 'string' },
          tpm: { type: 'string' },
          concurrency: { type: 'string' },
          trusted: { type: 'boolean', default: false },
          cidrs: { type: 'string' },
        },
        strict: true,
        allowPositionals: true,
      });
      if (positionals.length) throw new Error(`unexpected argument "${positionals[0]}"`);
      if (!values.user) throw new Error('--user EMAIL is required');
      if (values.expires !== undefined && Number.isNaN(Date.parse(values.expires))) throw new Error(`--expires: expected an ISO time, got "${values.expires}"`);
      const limits: KeyLimits = {};
      const rpm = positive(values.rpm, 'rpm');
      const tpm = positive(values.tpm, 'tpm');
      const concurrency = positive(values.concurrency, 'concurrency');
      if (rpm) limits.requestsPerMinute = rpm;
      if (tpm) limits.tokensPerMinute = tpm;
      if (concurrency) limits.maxConcurrent = concurrency;
      const created = await withBus((bus) =>
        bus.request('key-registry.create', {
          userEmail: values.user!,
          ...(values.name ? { name: values.name } : {}),
          ...(values.models ? { allowedModels: list(values.models) } : {}),
          ...(values.expires ? { expiresAt: new Date(values.expires).toISOString() } : {}),
          ...(values.trusted ? { trusted: true } : {}),
          ...(values.cidrs ? { allowedCidrs: list(values.cidrs) } : {}),
          ...(Object.keys(limits).length ? { limits } : {}),
        }),
      );
      out(created.secret);
      out(describe(created.key));
      return 0;
    }
    if (action === 'list') {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { user: { type: 'string' }, all: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
        strict: true,
        allowPositionals: true,
      });
      if (positionals.length) throw new Error(`unexpected argument "${positionals[0]}"`);
      const reply = await withBus((bus) => bus.request('key-registry.list', { ...(values.user ? { userEmail: values.user } : {}), includeRevoked: values.all }));
      if (values.json) out(JSON.stringify(reply.keys, null, 2));
      else for (const k of reply.keys) out(describe(k));
      return 0;
    }
    if (action === 'revoke') {
      const { values, positionals } = parseArgs({ args: rest, options: { user: { type: 'string' } }, strict: true, allowPositionals: true });
      if (positionals.length !== 1) throw new Error('give exactly one key id: maas keys revoke ID');
      const revoked = await withBus((bus) => bus.request('key-registry.revoke', { keyId: positionals[0], ...(values.user ? { userEmail: values.user } : {}) }));
      out(describe(revoked));
      return 0;
    }
    throw new Error(action ? `unknown action "${action}"; use create, list or revoke` : 'give an action: create, list or revoke');
  },
};
