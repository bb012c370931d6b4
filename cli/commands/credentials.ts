import * as path from 'node:path';
import { defineArgs, UsageError } from '@maas/cli-args';
import { ANY_WORKER_ID, NatsCredentialStore } from '@maas/nats';
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

/** `NODE[:ID,ID…]`: a worker credential for NODE speaking for those ids (default the node name), `*` for any id. */
function workerSpec(text: string): { node: string; ids: string[] } {
  const [node, ids] = text.split(':', 2);
  if (!node) throw new Error(`expected NODE or NODE:ID,ID (or NODE:${ANY_WORKER_ID} for any id), got ${JSON.stringify(text)}`);
  return { node, ids: ids ? ids.split(',').filter(Boolean) : [node] };
}

/** `HOST:PORT` where the server listens. */
function listenSpec(text: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new Error(`expected HOST:PORT, e.g. 0.0.0.0:4222, got ${JSON.stringify(text)}`);
  return { host: m[1], port };
}

/** `NAME=HOST`: a server of the cluster and the address clients and the other servers reach it at. */
function clusterNodeSpec(text: string): { name: string; host: string } {
  const m = /^([A-Za-z0-9_-]{1,100})=(\S+)$/.exec(text);
  if (!m) throw new Error(`expected NAME=HOST, e.g. nats-1=nats-1.example.org, got ${JSON.stringify(text)}`);
  return { name: m[1], host: m[2] };
}

const init = defineArgs({
  command: 'maas credentials init',
  description:
    'Makes what a NATS server with TLS and one nkey per part needs, in one folder: a CA, a server certificate for the names ' +
    'clients use (--host), one nkey per service and for cli-admin and cli-readonly, worker credentials (--worker), and ' +
    'nats-server.conf naming them by their paths in that folder. What exists is kept, so running it again (every ' +
    '`docker-compose up`) changes nothing but the config and what is missing. Start the server with `nats-server -c ' +
    '<folder>/nats-server.conf`; give each part NATS_NKEY=<folder>/credentials/<part>.nk and NATS_CA=<folder>/ca.pem.',
  options: {
    out: { type: 'string', value: 'DIR', help: 'where to write them, mode 700 (default $MAAS_NATS_DIR, else .maas/nats)' },
    host: {
      type: 'string',
      multiple: true,
      value: 'NAME',
      help: 'a name or address clients reach the server at (repeatable; localhost is always in)',
    },
    listen: { type: 'custom', parse: listenSpec, value: 'HOST:PORT', help: 'where the server listens (default 0.0.0.0:4222)' },
    'store-dir': {
      type: 'string',
      value: 'DIR',
      help: "the server's JetStream folder (default <out>/jetstream; a cluster's: <DIR>/<NAME>)",
    },
    'cluster-node': {
      type: 'custom',
      parse: clusterNodeSpec,
      multiple: true,
      value: 'NAME=HOST',
      help:
        'a server of a NATS cluster and the address clients and the other servers reach it at (repeatable): one certificate ' +
        'and one config per server (nats-server-NAME.conf), routes over mutual TLS with a route password',
    },
    'route-port': { type: 'integer', min: 1, max: 65535, default: 6222, help: "where a cluster's servers take routes" },
    namespace: { type: 'string', value: 'NS', default: 'maas', help: 'the subject namespace of the permissions (MAAS_NAMESPACE)' },
    worker: {
      type: 'custom',
      parse: workerSpec,
      multiple: true,
      value: 'NODE[:ID,…]',
      help: `a worker credential for NODE, speaking for its name or the ids given (${ANY_WORKER_ID}: any id); made once, kept after (repeatable)`,
    },
  },
  epilogue: ENVIRONMENT,
});

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
    init: defineCommand('makes the CA, server config and every credential of a NATS server in one folder', init, async ({ values }) => {
      const store = new NatsCredentialStore(values.out ? path.resolve(values.out) : defaultDir());
      const listen = values.listen ?? { host: '0.0.0.0', port: 4222 };
      const nodes = values['cluster-node'];
      store.initialise({
        ...listen,
        storeDir: values['store-dir'] ?? path.join(store.dir, 'jetstream'),
        namespace: values.namespace,
        hosts: values.host,
        ...(nodes.length ? { cluster: { name: 'open-maas', nodes, routePort: values['route-port'] } } : {}),
      });
      for (const { node, ids } of values.worker) {
        if (store.identities().some((i) => i.name === `worker-${node}`)) continue;
        store.issueWorker(node, ids);
      }
      for (const i of store.identities()) out(`${i.name.padEnd(20)} ${store.seedFile(i.name)}`);
      const configs = nodes.length ? nodes.map((n) => store.configFileOf(n.name)) : [store.configFile];
      out(`config: ${configs.join(', ')}; CA: ${store.caFile}`);
      return 0;
    }),
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
      const hosts = server.cluster ? server.cluster.nodes.map((n) => n.host) : [server.host];
      const url = hosts.map((h) => `nats://${h}:${server.port}`).join(',');
      const vars = { ...store.envFor(positionals[0]), NATS_URL: url, MAAS_NAMESPACE: server.namespace };
      for (const [k, v] of Object.entries(vars)) out(`export ${k}=${JSON.stringify(v)}`);
      return 0;
    }),
  },
  epilogue: ENVIRONMENT,
});
