import { Identity, permissionsFor } from './permissions';

/**
 * A value of a NATS config: quoted (JSON's quoting is NATS' quoting, so `$JS.API.>` stays a literal),
 * except `$NAME`, which nats-server takes from its environment: the deploy templates leave per-server
 * values to it.
 */
export const confValue = (value: string): string => (/^\$[A-Z][A-Z0-9_]*$/.test(value) ? value : JSON.stringify(value));
const q = (value: string) => JSON.stringify(value);

/** One user of the `authorization` block: the identity's public nkey and its allow-lists. */
export function renderUser(identity: Identity, namespace: string): string {
  const p = permissionsFor(identity, namespace);
  // An empty allow-list would mean no restriction to NATS: nothing allowed is said as everything denied.
  const list = (allow: string[], deny?: string[]) =>
    allow.length === 0
      ? '{ deny: [">"] }'
      : `{ allow: [${allow.map(q).join(', ')}]${deny?.length ? `, deny: [${deny.map(q).join(', ')}]` : ''} }`;
  return [
    `    # ${identity.name} (${identity.role}${identity.node ? `, node ${identity.node}` : ''}), issued ${identity.issuedAt}`,
    `    { nkey: ${q(identity.publicKey)}, permissions: {`,
    `        publish: ${list(p.publish.allow, p.publish.deny)}`,
    `        subscribe: ${list(p.subscribe.allow, p.subscribe.deny)}`,
    ...(p.allow_responses ? ['        allow_responses: true'] : []),
    '    } }',
  ].join('\n');
}

/** The user routes sign in as: the route password is the second factor besides the certificate. */
export const ROUTE_USER = 'route';

/** What one server of a cluster adds: its name, its routes and how they authenticate. */
export interface ClusterServerValues {
  readonly serverName: string;
  readonly clusterName: string;
  /** Where routes come in, `host:port`. */
  readonly listen: string;
  /** The route URL the others dial for this server (`host:port`), which its certificate names. */
  readonly advertise: string;
  /** Every server's route URL with the route user and password, this one's included (a server skips the route to itself). */
  readonly routes: readonly string[];
  readonly routePassword: string;
}

/** Every value of one server's config; each may be `$NAME`, resolved by nats-server from its environment. */
export interface ServerConfigValues {
  readonly listen: string;
  /** The address clients are told to reconnect to (`host:port`), which the server certificate names. */
  readonly clientAdvertise?: string;
  readonly pidFile?: string;
  readonly storeDir: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly cluster?: ClusterServerValues;
  readonly identities: readonly Identity[];
  readonly namespace: string;
}

/**
 * A server config: listener, JetStream, TLS required, one nkey user per identity with its allow-lists,
 * and for a cluster the routes: mutual TLS with certificates of the same CA (a route is a TLS client of
 * the server it dials) and the route user's password.
 */
export function renderServerConfig(v: ServerConfigValues, header: readonly string[]): string {
  const c = v.cluster;
  return [
    ...header,
    ...(c ? [`server_name: ${confValue(c.serverName)}`] : []),
    `listen: ${confValue(v.listen)}`,
    ...(v.clientAdvertise ? [`client_advertise: ${confValue(v.clientAdvertise)}`] : []),
    ...(v.pidFile ? [`pid_file: ${confValue(v.pidFile)}`] : []),
    `jetstream { store_dir: ${confValue(v.storeDir)} }`,
    '# TLS is required: a plain-text client is refused before it can say anything.',
    'tls {',
    `  cert_file: ${confValue(v.cert)}`,
    `  key_file: ${confValue(v.key)}`,
    `  ca_file: ${confValue(v.ca)}`,
    '  timeout: 5',
    '}',
    ...(c
      ? [
          '# Routes: only a server holding a certificate of this CA and the route password joins.',
          'cluster {',
          `  name: ${confValue(c.clusterName)}`,
          `  listen: ${confValue(c.listen)}`,
          `  advertise: ${confValue(c.advertise)}`,
          '  tls {',
          `    cert_file: ${confValue(v.cert)}`,
          `    key_file: ${confValue(v.key)}`,
          `    ca_file: ${confValue(v.ca)}`,
          '    verify: true',
          '    timeout: 5',
          '  }',
          `  authorization { user: ${q(ROUTE_USER)}, password: ${confValue(c.routePassword)}, timeout: 5 }`,
          '  routes: [',
          ...c.routes.map((r) => `    ${confValue(r)}`),
          '  ]',
          '}',
        ]
      : []),
    '# No anonymous user: a connection without one of these nkeys is refused.',
    'authorization {',
    '  timeout: 5',
    '  users = [',
    v.identities.map((identity) => renderUser(identity, v.namespace)).join('\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
}
