import * as path from 'node:path';
import { defineArgs, UsageError } from '@maas/cli-args';
import { NatsCredentialStore } from '@maas/nats';
import { projectRoot } from '@maas/platform';
import { Command, defineCommand, defineCommandGroup } from '../command';

/** The credentials `npm start` made: MAAS_NATS_DIR, else <MAAS_STATE_DIR or .maas>/nats. */
function defaultDir(): string {
  if (process.env.MAAS_NATS_DIR) return path.resolve(process.env.MAAS_NATS_DIR);
  return path.join(process.env.MAAS_STATE_DIR ? path.resolve(process.env.MAAS_STATE_DIR) : path.join(projectRoot(), '.maas'), 'nats');
}

const dirOption = {
  type: 'string',
  value: 'DIR',
  help: 'the NATS CA, config and credentials (default $MAAS_NATS_DIR, else .maas/nats)',
} as const;
const ENVIRONMENT = 'environment: MAAS_NATS_DIR, MAAS_STATE_DIR (where `npm start` keeps them)';
const out = (line: string) => process.stdout.write(`${line}\n`);

/** Applies a changed config: the running server re-reads it, or one line says when it will. */
function reload(store: NatsCredentialStore): void {
  if (store.reload()) out(`nats-server reloaded its config (${store.configFile})`);
  else out(`no nats-server runs from ${store.dir}: the change applies when it starts (a server of your own: nats-server --signal reload)`);
}

const issue = defineArgs({
  command: 'maas credentials issue',
  description:
    'A NATS credential (an nkey) for the workers of one node. Its workers may publish worker events under their own ids only ' +
    '(the node name, or each --worker-id), and nothing else: no subscriptions, no commands. The server config is rewritten and ' +
    'reloaded; the seed is written beside it (mode 600): copy it to the node and point NATS_NKEY at it, with NATS_CA at the CA. ' +
    'Issuing again replaces the earlier credential.',
  positionals: [{ name: 'KIND', help: 'worker' }],
  options: {
    node: { type: 'string', required: true, value: 'NODE', help: 'the node the workers run on, e.g. gpu-node-7' },
    'worker-id': { type: 'string', multiple: true, value: 'ID', help: 'a worker id it may speak for (repeatable; default: the node name)' },
    dir: dirOption,
  },
  epilogue: ENVIRONMENT,
});

const revoke = defineArgs({
  command: 'maas credentials revoke',
  description:
    "Removes a node's worker credential from the NATS config and reloads the server, which disconnects its workers and refuses the credential from then on.",
  positionals: [{ name: 'KIND', help: 'worker' }],
  options: {
    node: { type: 'string', required: true, value: 'NODE', help: 'the node whose credential is revoked' },
    dir: dirOption,
  },
  epilogue: ENVIRONMENT,
});

const list = defineArgs({
  command: 'maas credentials list',
  description:
    'Every NATS identity: name, role, the worker ids of a worker credential, when it was issued. Public keys only; no secret is printed.',
  options: { dir: dirOption },
  epilogue: ENVIRONMENT,
});

const env = defineArgs({
  command: 'maas credentials env',
  description:
    'Prints the environment that connects as IDENTITY (e.g. cli-admin or cli-readonly for the maas commands), as export lines for a shell.',
  positionals: [{ name: 'IDENTITY', help: 'an identity from `maas credentials list`' }],
  options: { dir: dirOption },
  epilogue: ENVIRONMENT,
});

function workerKind(kind: string | undefined, command: string): void {
  if (kind !== 'worker')
    throw new UsageError(
      `KIND must be worker (services and the CLI identities are made by npm start), got ${JSON.stringify(kind ?? '')}`,
      command,
    );
}

export const command: Command = defineCommandGroup({
  command: 'maas credentials',
  summary: 'issue, revoke and list NATS credentials (per-node worker nkeys)',
  description:
    'NATS identities of this installation: one nkey per service, per worker node and for the operators (cli-admin, cli-readonly), ' +
    'each allowed only the subjects its role needs. The server config keeps public keys only.',
  actions: {
    issue: defineCommand('issues a worker credential for one node and reloads the server', issue, async ({ values, positionals }) => {
      workerKind(positionals[0], issue.command);
      const store = new NatsCredentialStore(values.dir ?? defaultDir());
      const ids = values['worker-id'].length ? values['worker-id'] : [values.node];
      const identity = store.issueWorker(values.node, ids);
      const credentials = store.envFor(identity.name);
      out(`issued ${identity.name} (${identity.publicKey}) for worker ids ${ids.join(', ')}`);
      out(`seed: ${credentials.NATS_NKEY} (mode 600; copy it to ${values.node})`);
      out(`on the node: NATS_NKEY=<the seed there> NATS_CA=<a copy of ${credentials.NATS_CA}> maas worker --worker-id ${ids[0]} …`);
      reload(store);
      return 0;
    }),
    revoke: defineCommand('revokes a worker credential and reloads the server', revoke, async ({ values, positionals }) => {
      workerKind(positionals[0], revoke.command);
      const store = new NatsCredentialStore(values.dir ?? defaultDir());
      if (!store.revoke(`worker-${values.node}`)) {
        process.stderr.write(`maas credentials revoke: no worker credential for node ${values.node} in ${store.dir}\n`);
        return 1;
      }
      out(`revoked worker-${values.node}`);
      reload(store);
      return 0;
    }),
    list: defineCommand('lists the NATS identities (public keys only)', list, async ({ values }) => {
      const store = new NatsCredentialStore(values.dir ?? defaultDir());
      for (const i of store.identities()) {
        out([i.name, i.role, i.workerIds ? `worker ids ${i.workerIds.join(',')}` : '-', `issued ${i.issuedAt}`, i.publicKey].join('  '));
      }
      return 0;
    }),
    env: defineCommand('prints the environment that connects as one identity', env, async ({ values, positionals }) => {
      const store = new NatsCredentialStore(values.dir ?? defaultDir());
      const server = store.server();
      const vars = { ...store.envFor(positionals[0]), NATS_URL: `nats://${server.host}:${server.port}`, MAAS_NAMESPACE: server.namespace };
      for (const [k, v] of Object.entries(vars)) out(`export ${k}=${JSON.stringify(v)}`);
      return 0;
    }),
  },
  epilogue: ENVIRONMENT,
});
