import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createUser, fromSeed } from 'nkeys.js';
import { Identity, Role, SERVICE_ROLES } from './permissions';
import { renderServerConfig, ROUTE_USER, ServerConfigValues } from './server-config';

/** Where the server listens and keeps its JetStream data; kept with the identities so every rewrite of the config agrees. */
export interface NatsServerSettings {
  readonly host: string;
  readonly port: number;
  readonly storeDir: string;
  /** The subject namespace the permissions are written for (MAAS_NAMESPACE). */
  readonly namespace: string;
  /** Names and addresses the server certificate is valid for, besides localhost and 127.0.0.1. */
  readonly hosts?: readonly string[];
  /** Several servers in one cluster: one config and certificate per node instead of `nats-server.conf`. */
  readonly cluster?: NatsClusterSettings;
  /**
   * The one server certificate also serves routes (a Kubernetes StatefulSet whose pods share it): it is then
   * a TLS client certificate too, as the server a route dials checks the dialling one.
   */
  readonly sharedRouteCertificate?: boolean;
}

/** A server of a cluster: its name and the address (DNS name or IP) clients and the other servers reach it at. */
export interface NatsClusterNode {
  readonly name: string;
  readonly host: string;
}

export interface NatsClusterSettings {
  readonly name: string;
  readonly nodes: readonly NatsClusterNode[];
  /** Where each server takes routes from the others (6222). */
  readonly routePort: number;
}

interface StoreFile {
  readonly server: NatsServerSettings;
  readonly identities: Identity[];
}

/** What a process needs in its environment to connect as one identity (libs/config NatsSecurityConfig). */
export interface NatsCredentialEnv {
  NATS_NKEY: string;
  NATS_CA: string;
  [key: string]: string;
}

const NODE_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
/** The one worker "id" that stands for all of them (a NATS token wildcard). */
export const ANY_WORKER_ID = '*';

function checkWorkerIds(workerIds: readonly string[]): void {
  if (workerIds.length === 0) throw new Error('a worker credential speaks for at least one worker id');
  for (const id of workerIds) {
    if (!NODE_PATTERN.test(id) && !(id === ANY_WORKER_ID && workerIds.length === 1)) {
      throw new Error(`worker id ${JSON.stringify(id)} must be letters, digits, "_" and "-" (it ends a subject)`);
    }
  }
}

function writePrivate(file: string, text: string): void {
  fs.writeFileSync(`${file}.partial`, text, { mode: 0o600 });
  fs.chmodSync(`${file}.partial`, 0o600);
  fs.renameSync(`${file}.partial`, file);
}

/**
 * NATS credentials of one installation, kept in a folder (`.maas/nats/`, files 0600): a local CA and
 * the server's certificate (made with openssl), one nkey per identity (the seed in
 * `credentials/<name>.nk` for the process that uses it; the server config holds only public keys),
 * `identities.json` (who exists, with what role) and the generated `nats-server.conf`. Issuing or
 * revoking rewrites the config; `reload()` makes a running server apply it.
 */
export class NatsCredentialStore {
  constructor(readonly dir: string) {}

  get configFile(): string {
    return path.join(this.dir, 'nats-server.conf');
  }
  get pidFile(): string {
    return path.join(this.dir, 'nats-server.pid');
  }
  /** The config of one server of the cluster. */
  configFileOf(node: string): string {
    return path.join(this.dir, `nats-server-${node}.conf`);
  }
  private pidFileOf(node: string): string {
    return path.join(this.dir, `nats-server-${node}.pid`);
  }
  private get routePasswordFile(): string {
    return path.join(this.dir, 'route.password');
  }
  get caFile(): string {
    return path.join(this.dir, 'ca.pem');
  }
  private get storeFile(): string {
    return path.join(this.dir, 'identities.json');
  }
  seedFile(name: string): string {
    return path.join(this.dir, 'credentials', `${name}.nk`);
  }

  exists(): boolean {
    return fs.existsSync(this.storeFile);
  }

  private read(): StoreFile {
    if (!this.exists()) throw new Error(`no NATS credentials in ${this.dir}: \`npm start\` makes them (or set MAAS_NATS_DIR)`);
    return JSON.parse(fs.readFileSync(this.storeFile, 'utf8')) as StoreFile;
  }

  private write(store: StoreFile): void {
    writePrivate(this.storeFile, `${JSON.stringify(store, null, 2)}\n`);
    const cluster = store.server.cluster;
    if (!cluster) writePrivate(this.configFile, this.renderConfig(store));
    for (const node of cluster?.nodes ?? []) writePrivate(this.configFileOf(node.name), this.renderNodeConfig(node.name, store));
  }

  identities(): readonly Identity[] {
    return this.read().identities;
  }

  server(): NatsServerSettings {
    return this.read().server;
  }

  /**
   * Makes what is missing — folder, CA, server certificate, one identity per service and the two CLI
   * identities — and rewrites the config for `server`. Existing credentials are kept.
   */
  initialise(server: NatsServerSettings): void {
    fs.mkdirSync(path.join(this.dir, 'credentials'), { recursive: true, mode: 0o700 });
    fs.chmodSync(this.dir, 0o700);
    this.ensureCa();
    if (server.cluster) {
      for (const node of server.cluster.nodes) {
        if (!NODE_PATTERN.test(node.name))
          throw new Error(`cluster node ${JSON.stringify(node.name)} must be letters, digits, "_" and "-"`);
        // A route is a TLS client of the server it dials: the same certificate serves both ends.
        this.ensureServerCertificate(`server-${node.name}`, ['localhost', node.host, ...(server.hosts ?? [])], true);
      }
      if (!fs.existsSync(this.routePasswordFile)) writePrivate(this.routePasswordFile, randomBytes(24).toString('base64url'));
    } else {
      const listen = server.host !== '0.0.0.0' && IP.test(server.host) ? [server.host] : [];
      this.ensureServerCertificate(
        'server',
        ['localhost', os.hostname(), ...listen, ...(server.hosts ?? [])],
        server.sharedRouteCertificate === true,
      );
    }
    let identities = this.exists() ? [...this.read().identities] : [];
    for (const role of [...SERVICE_ROLES, 'cli-admin', 'cli-readonly'] as const) {
      const existing = identities.find((i) => i.name === role);
      if (existing && fs.existsSync(this.seedFile(role))) continue;
      identities = [...identities.filter((i) => i.name !== role), this.newIdentity(role, role)];
    }
    this.write({ server, identities });
  }

  /**
   * A new credential for the workers of `node`, allowed to speak for `workerIds` (default: the node
   * name); replaces an earlier one. `ANY_WORKER_ID` alone allows every id: for the workers a quick
   * start's vm-scaler launches on its own machine under ids it picks at run time.
   */
  issueWorker(node: string, workerIds: readonly string[] = [node]): Identity {
    if (!NODE_PATTERN.test(node)) throw new Error(`node ${JSON.stringify(node)} must be letters, digits, "_" and "-"`);
    checkWorkerIds(workerIds);
    const store = this.read();
    const name = `worker-${node}`;
    const identity = { ...this.newIdentity(name, 'worker'), node, workerIds: [...new Set(workerIds)] };
    this.write({ ...store, identities: [...store.identities.filter((i) => i.name !== name), identity] });
    return identity;
  }

  /** Lets a worker credential speak for `workerIds` instead, keeping its key (a node named after it was issued). */
  grantWorkerIds(name: string, workerIds: readonly string[]): Identity {
    const store = this.read();
    const identity = store.identities.find((i) => i.name === name && i.role === 'worker');
    if (!identity) throw new Error(`no worker credential "${name}" in ${this.dir}`);
    checkWorkerIds(workerIds);
    const granted = { ...identity, workerIds: [...new Set(workerIds)] };
    this.write({ ...store, identities: store.identities.map((i) => (i.name === name ? granted : i)) });
    return granted;
  }

  /** Removes an identity from the config and deletes its seed; false when there was none. */
  revoke(name: string): boolean {
    const store = this.read();
    if (!store.identities.some((i) => i.name === name)) return false;
    this.write({ ...store, identities: store.identities.filter((i) => i.name !== name) });
    fs.rmSync(this.seedFile(name), { force: true });
    return true;
  }

  /** The environment that makes a process connect as `name`. */
  envFor(name: string): NatsCredentialEnv {
    if (!this.read().identities.some((i) => i.name === name)) throw new Error(`no NATS identity "${name}" in ${this.dir}`);
    return { NATS_NKEY: this.seedFile(name), NATS_CA: this.caFile };
  }

  /**
   * Asks the running server to re-read its config (`nats-server --signal reload`): a revoked
   * identity's connections are closed, a new one may connect. False when no server runs from here.
   */
  reload(): boolean {
    const cluster = this.exists() ? this.server().cluster : undefined;
    const pidFiles = cluster ? cluster.nodes.map((n) => this.pidFileOf(n.name)) : [this.pidFile];
    let reloaded = false;
    for (const file of pidFiles) reloaded = this.signalReload(file) || reloaded;
    return reloaded;
  }

  private signalReload(pidFile: string): boolean {
    if (!fs.existsSync(pidFile)) return false;
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    const r = spawnSync('nats-server', ['--signal', `reload=${pid}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nats-server --signal reload=${pid} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
    return true;
  }

  private newIdentity(name: string, role: Role): Identity {
    const user = createUser();
    writePrivate(this.seedFile(name), `${new TextDecoder().decode(user.getSeed())}\n`);
    return { name, role, publicKey: user.getPublicKey(), issuedAt: new Date().toISOString() };
  }

  /** The public key of a seed file, to check a seed against the config. */
  static publicKeyOf(seedFile: string): string {
    return fromSeed(new TextEncoder().encode(fs.readFileSync(seedFile, 'utf8').trim())).getPublicKey();
  }

  private openssl(args: string[]): void {
    try {
      execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`openssl ${args[0]} failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`);
    }
  }

  /** The installation's CA: made once; a new CA invalidates every server certificate. */
  private ensureCa(): void {
    const key = path.join(this.dir, 'ca.key');
    if (fs.existsSync(this.caFile) && fs.existsSync(key)) return;
    this.openssl(['req', '-x509', ...EC_KEY, '-keyout', key, '-out', this.caFile, '-days', '3650', '-subj', '/CN=open-maas local NATS CA']);
    for (const f of fs.readdirSync(this.dir)) if (/^server(-.+)?\.san$/.test(f)) fs.rmSync(path.join(this.dir, f));
  }

  /**
   * `<base>.pem` and `<base>.key`, signed by the CA for `names` (DNS names and IP addresses, with
   * 127.0.0.1 and ::1); made again only when the names change. `routes`: also a TLS client certificate.
   */
  private ensureServerCertificate(base: string, names: readonly string[], routes: boolean): void {
    const cert = { key: path.join(this.dir, `${base}.key`), cert: path.join(this.dir, `${base}.pem`) };
    const ips = [...new Set(['127.0.0.1', '::1', ...names.filter((n) => IP.test(n))])];
    const san = [...new Set(names.filter((n) => !IP.test(n)))]
      .map((n) => `DNS:${n}`)
      .concat(ips.map((ip) => `IP:${ip}`))
      .join(',');
    const sanFile = path.join(this.dir, `${base}.san`);
    // what the certificate was made for: its names, and whether it is a client certificate too
    const madeFor = routes ? `${san}\nclientAuth` : san;
    if (fs.existsSync(cert.cert) && fs.existsSync(sanFile) && fs.readFileSync(sanFile, 'utf8') === madeFor) return;
    const csr = path.join(this.dir, `${base}.csr`);
    const ext = path.join(this.dir, `${base}.ext`);
    this.openssl([
      'req',
      ...EC_KEY,
      '-keyout',
      cert.key,
      '-out',
      csr,
      '-subj',
      `/CN=open-maas NATS${base === 'server' ? '' : ` ${base.slice(7)}`}`,
    ]);
    fs.writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth${routes ? ',clientAuth' : ''}\n`);
    const caKey = path.join(this.dir, 'ca.key');
    this.openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.caFile,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-out',
      cert.cert,
      '-days',
      '825',
      '-extfile',
      ext,
    ]);
    for (const f of [caKey, this.caFile, cert.key, cert.cert, path.join(this.dir, 'ca.srl')]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
    fs.rmSync(csr, { force: true });
    fs.rmSync(ext, { force: true });
    writePrivate(sanFile, madeFor);
  }

  /** The config of the one server: listener, JetStream, TLS required, one user per identity with its allow-lists. */
  renderConfig(store: StoreFile = this.read()): string {
    const { server, identities } = store;
    return renderServerConfig(
      {
        listen: `${server.host}:${server.port}`,
        pidFile: this.pidFile,
        storeDir: server.storeDir,
        cert: path.join(this.dir, 'server.pem'),
        key: path.join(this.dir, 'server.key'),
        ca: this.caFile,
        identities,
        namespace: server.namespace,
      },
      HEADER,
    );
  }

  /**
   * The config of one server of the cluster: the same users everywhere, its own certificate, routes
   * to every node over mutual TLS with the route password, and JetStream data under `<storeDir>/<node>`.
   */
  renderNodeConfig(name: string, store: StoreFile = this.read()): string {
    const { server, identities } = store;
    const cluster = server.cluster;
    const node = cluster?.nodes.find((n) => n.name === name);
    if (!cluster || !node) throw new Error(`no NATS cluster node "${name}" in ${this.dir}`);
    // The dialling server signs in with the user in the route URL (base64url: nothing to escape).
    const routePassword = fs.readFileSync(this.routePasswordFile, 'utf8').trim();
    const values: ServerConfigValues = {
      listen: `${server.host}:${server.port}`,
      clientAdvertise: `${node.host}:${server.port}`,
      pidFile: this.pidFileOf(name),
      storeDir: path.join(server.storeDir, name),
      cert: path.join(this.dir, `server-${name}.pem`),
      key: path.join(this.dir, `server-${name}.key`),
      ca: this.caFile,
      cluster: {
        serverName: name,
        clusterName: cluster.name,
        listen: `${server.host}:${cluster.routePort}`,
        advertise: `${node.host}:${cluster.routePort}`,
        routes: cluster.nodes.map((n) => `nats-route://${ROUTE_USER}:${routePassword}@${n.host}:${cluster.routePort}`),
        routePassword,
      },
      identities,
      namespace: server.namespace,
    };
    return renderServerConfig(values, HEADER);
  }
}

const HEADER = [
  '# Generated by open-maas (libs/nats/src/credential-store.ts); rewritten when credentials are issued or',
  '# revoked (`maas credentials`). deploy/nats/nats-server.conf and cluster.conf document the same layout.',
];
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const IP = /^[\d.:]+$/;
