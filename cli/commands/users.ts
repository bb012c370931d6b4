import { defineArgs } from '@maas/cli-args';
import { UserSummary } from '@maas/contracts';
import { BUS_ENVIRONMENT, withBus } from '../bus';
import { Command, defineCommand, defineCommandGroup } from '../command';

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

const ENVIRONMENT = BUS_ENVIRONMENT;
const USER = { name: 'USER', help: 'account id, e-mail address or eppn' } as const;
const out = (line: string) => process.stdout.write(`${line}\n`);
const print = (users: UserSummary[], json: boolean) =>
  json ? out(JSON.stringify(users, null, 2)) : users.forEach((u) => out(describe(u)));

const list = defineArgs({
  command: 'maas users list',
  description: 'One account per line: id, e-mail, name, roles, affiliation, last login, state.',
  options: {
    limit: { type: 'integer', min: 1, max: 5000, help: 'at most this many accounts' },
    json: { type: 'boolean', help: 'print the accounts as JSON' },
  },
  epilogue: ENVIRONMENT,
});

const show = defineArgs({
  command: 'maas users show',
  description: 'One account.',
  positionals: [USER],
  options: { json: { type: 'boolean', help: 'print the account as JSON' } },
  epilogue: ENVIRONMENT,
});

/** disable, enable and end-sessions: one account, one change. */
function change(action: string, summary: string, update: { disabled: boolean } | { endSessions: true }): Command {
  const spec = defineArgs({
    command: `maas users ${action}`,
    description: `${summary[0].toUpperCase()}${summary.slice(1)}.`,
    positionals: [USER],
    options: { json: { type: 'boolean', help: 'print the account as JSON' } },
    epilogue: ENVIRONMENT,
  });
  return defineCommand(summary, spec, async ({ values, positionals }) => {
    const reply = await withBus('auth', (bus) => bus.request('auth.update-user', { user: positionals[0], ...update }));
    print([reply.user], values.json);
    return 0;
  });
}

export const command: Command = defineCommandGroup({
  command: 'maas users',
  summary: 'list single sign-on accounts; disable, enable, sign out',
  description: 'Accounts created by single sign-on, through auth over NATS.',
  actions: {
    list: defineCommand('one account per line: id, e-mail, name, roles, affiliation, last login, state', list, async ({ values }) => {
      print(
        (await withBus('auth', (bus) => bus.request('auth.list-users', values.limit ? { limit: values.limit } : {}))).users,
        values.json,
      );
      return 0;
    }),
    show: defineCommand('one account (USER: account id, e-mail address or eppn)', show, async ({ values, positionals }) => {
      const user = positionals[0];
      const { users } = await withBus('auth', (bus) => bus.request('auth.list-users', { user }));
      if (!users.length) throw new Error(`no account ${user}`);
      print(users, values.json);
      return 0;
    }),
    disable: change('disable', 'blocks sign-in and ends every browser session of the account', { disabled: true }),
    enable: change('enable', 'allows sign-in again', { disabled: false }),
    'end-sessions': change('end-sessions', 'signs the account out everywhere (its API keys are untouched: see maas keys)', {
      endSessions: true,
    }),
  },
  epilogue: ENVIRONMENT,
});
