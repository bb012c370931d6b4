import { parseArgs } from 'node:util';
import { connect, NatsConnection } from 'nats';
import { Subjects, UserSummary } from '@maas/contracts';
import { loadConfig, platformConfigSpec } from '@maas/config';
import { MessageBus } from '@maas/nats';
import { Command } from '../command';

const usage = `usage: maas users <list|show|disable|enable|end-sessions> [options]

Accounts created by single sign-on, through auth over NATS.

  maas users list [--limit N] [--json]
      one account per line: id, e-mail, name, roles, affiliation, last login, state
  maas users show USER [--json]
      one account (USER: account id, e-mail address or eppn)
  maas users disable USER
      blocks sign-in and ends every browser session of the account
  maas users enable USER
  maas users end-sessions USER
      signs the account out everywhere (its API keys are untouched: see maas keys)

environment: NATS_URL (default nats://127.0.0.1:4222), MAAS_NAMESPACE (default maas)
`;

function describe(u: UserSummary): string {
  return [
    u.userId,
    u.email,
    u.displayName ? `"${u.displayName}"` : '-',
    `roles=${u.roles.join(',')}`,
    `affiliation=${(u.affiliations ?? []).join(',') || '-'}`,
    `last-login=${u.lastLoginAt ?? 'never'}`,
    `sessions=${u.activeSessions ?? 0}`,
    u.disabledAt ? `disabled ${u.disabledAt}` : 'active',
  ].join('  ');
}

async function withBus<T>(fn: (bus: MessageBus) => Promise<T>): Promise<T> {
  const config = loadConfig(platformConfigSpec);
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: config.NATS_URL, name: 'maas-users', timeout: 3000 });
  } catch (err) {
    throw new Error(`cannot reach NATS at ${config.NATS_URL}: ${(err as Error).message}`);
  }
  try {
    return await fn(new MessageBus(nc, new Subjects(config.MAAS_NAMESPACE)));
  } catch (err) {
    const message = (err as Error).message;
    if (/no responders|^503$|timeout/i.test(message)) {
      throw new Error(`auth is not answering on NATS (namespace ${config.MAAS_NAMESPACE}): ${message === '503' ? 'no responders' : message}`);
    }
    throw err;
  } finally {
    await nc.close();
  }
}

export const command: Command = {
  summary: 'list single sign-on accounts; disable, enable, sign out',
  usage,
  async run(argv) {
    const [action, ...rest] = argv;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const { values, positionals } = parseArgs({
      args: rest,
      options: { json: { type: 'boolean', default: false }, limit: { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
    const print = (users: UserSummary[]) => (values.json ? out(JSON.stringify(users, null, 2)) : users.forEach((u) => out(describe(u))));
    if (action === 'list') {
      if (positionals.length) throw new Error(`unexpected argument "${positionals[0]}"`);
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 5000)) throw new Error(`--limit: expected 1 to 5000, got "${values.limit}"`);
      print((await withBus((bus) => bus.request('auth.list-users', limit ? { limit } : {}))).users);
      return 0;
    }
    if (!action || !['show', 'disable', 'enable', 'end-sessions'].includes(action)) {
      throw new Error(action ? `unknown action "${action}"; use list, show, disable, enable or end-sessions` : 'give an action: list, show, disable, enable or end-sessions');
    }
    if (positionals.length !== 1) throw new Error(`give exactly one account: maas users ${action} USER`);
    const user = positionals[0];
    if (action === 'show') {
      const { users } = await withBus((bus) => bus.request('auth.list-users', { user }));
      if (!users.length) throw new Error(`no account ${user}`);
      print(users);
      return 0;
    }
    const change = action === 'end-sessions' ? { endSessions: true } : { disabled: action === 'disable' };
    const reply = await withBus((bus) => bus.request('auth.update-user', { user, ...change }));
    print([reply.user]);
    return 0;
  },
};
