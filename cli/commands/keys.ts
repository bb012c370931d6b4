import { defineArgs } from '@maas/cli-args';
import { KeyLimits, KeySummary, newSealingKeys, openSealedSecret } from '@maas/contracts';
import { BUS_ENVIRONMENT, withBus } from '../bus';
import { Command, defineCommand, defineCommandGroup } from '../command';

const commaList = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A key stored before keys were verified by digest: every gateway refuses it, so its holder needs a new one. */
const LEGACY = 'legacy (refused: made before keys were verified by digest; create a new key and revoke this one)';

function describe(k: KeySummary): string {
  const state = k.revokedAt
    ? `revoked ${k.revokedAt}`
    : k.expiresAt && Date.parse(k.expiresAt) <= Date.now()
      ? `expired ${k.expiresAt}`
      : k.legacy
        ? LEGACY
        : 'active';
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

const ENVIRONMENT = BUS_ENVIRONMENT;
const out = (line: string) => process.stdout.write(`${line}\n`);

function isoTime(text: string): string {
  if (Number.isNaN(Date.parse(text))) throw new Error(`expected an ISO time, got "${text}"`);
  return new Date(text).toISOString();
}

const create = defineArgs({
  command: 'maas keys create',
  description: 'Creates a key and prints its secret (shown this once) on the first line, then its id.',
  options: {
    user: { type: 'string', value: 'EMAIL', required: true, help: 'the account the key belongs to' },
    name: { type: 'string', value: 'NAME', help: 'a label for the key' },
    models: { type: 'custom', parse: commaList, value: 'a,b*', help: 'models the key may use, * as a wildcard (default: all)' },
    expires: { type: 'custom', parse: isoTime, value: 'ISO-TIME', help: 'when the key stops working (default: never)' },
    rpm: { type: 'integer', min: 1, help: 'requests per minute' },
    tpm: { type: 'integer', min: 1, help: 'tokens per minute' },
    concurrency: { type: 'integer', min: 1, help: 'requests at once' },
    trusted: { type: 'boolean', help: "a service key (e.g. Open WebUI's) that may name the end user it acts for" },
    cidrs: { type: 'custom', parse: commaList, value: '10.0.0.0/8,…', help: 'client networks the key is accepted from (default: any)' },
  },
  epilogue: ENVIRONMENT,
});

const listKeys = defineArgs({
  command: 'maas keys list',
  description: 'One key per line: id, prefix, user, models, state (active, expired, revoked, or legacy: refused until replaced).',
  options: {
    user: { type: 'string', value: 'EMAIL', help: 'only the keys of this account' },
    all: { type: 'boolean', help: 'include revoked keys' },
    json: { type: 'boolean', help: 'print the keys as JSON' },
  },
  epilogue: ENVIRONMENT,
});

const revoke = defineArgs({
  command: 'maas keys revoke',
  description: 'Revokes the key; every gateway stops accepting it within a second.',
  positionals: [{ name: 'ID', help: 'the key id' }],
  options: { user: { type: 'string', value: 'EMAIL', help: 'the account the key must belong to' } },
  epilogue: ENVIRONMENT,
});

export const command: Command = defineCommandGroup({
  command: 'maas keys',
  summary: 'create, list and revoke API keys',
  description: 'API keys, through key-registry over NATS.',
  actions: {
    create: defineCommand(
      'creates a key and prints its secret (shown this once) on the first line, then its id',
      create,
      async ({ values }) => {
        const limits: KeyLimits = {};
        if (values.rpm) limits.requestsPerMinute = values.rpm;
        if (values.tpm) limits.tokensPerMinute = values.tpm;
        if (values.concurrency) limits.maxConcurrent = values.concurrency;
        // The key comes back sealed to a key pair that lives only in this process: NATS never carries it in clear.
        const sealing = newSealingKeys();
        const created = await withBus('key-registry', (bus) =>
          bus.request('key-registry.create', {
            sealTo: sealing.sealTo,
            userEmail: values.user,
            ...(values.name ? { name: values.name } : {}),
            ...(values.models ? { allowedModels: values.models } : {}),
            ...(values.expires ? { expiresAt: values.expires } : {}),
            ...(values.trusted ? { trusted: true } : {}),
            ...(values.cidrs ? { allowedCidrs: values.cidrs } : {}),
            ...(Object.keys(limits).length ? { limits } : {}),
          }),
        );
        out(openSealedSecret(created.secret, sealing));
        out(describe(created.key));
        return 0;
      },
    ),
    list: defineCommand('one key per line: id, prefix, user, models, state; --all includes revoked keys', listKeys, async ({ values }) => {
      const reply = await withBus('key-registry', (bus) =>
        bus.request('key-registry.list', { ...(values.user ? { userEmail: values.user } : {}), includeRevoked: values.all }),
      );
      if (values.json) out(JSON.stringify(reply.keys, null, 2));
      else for (const k of reply.keys) out(describe(k));
      return 0;
    }),
    revoke: defineCommand('revokes the key; every gateway stops accepting it within a second', revoke, async ({ values, positionals }) => {
      const revoked = await withBus('key-registry', (bus) =>
        bus.request('key-registry.revoke', { keyId: positionals[0], ...(values.user ? { userEmail: values.user } : {}) }),
      );
      out(describe(revoked));
      return 0;
    }),
  },
  epilogue: ENVIRONMENT,
});
