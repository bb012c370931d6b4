import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createUser, fromSeed } from 'nkeys.js';
import { Identity, permissionsFor, Role, SERVICE_ROLES } from './permissions';

/** Where the server listens and keeps its JetStream data; kept with the identities so every rewrite of the config agrees. */
export interface NatsServerSettings {
  readonly host: string;
  readonly port: number;
  readonly storeDir: string;
  /** The subject namespace the permissions are written for (MAAS_NAMESPACE). */
  readonly namespace: string;
  /** Names and addresses the server certificate is valid for, besides localhost and 127.0.0.1. */
  readonly hosts?: readonly string[];
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

function writePrivate(file: string, text: string): void {
  fs.writeFileSync(`${file}.partial`, text, { mode: 0o600 });
  fs.chmodSync(`${file}.partial`, 0o600);
  fs.renameSync(`${file}.partial`, file);
}

/** A NATS config string: JSON's quoting is NATS' quoting, so `$JS.API.>` stays a literal. */
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
    writePrivate(this.configFile, this.renderConfig(store));
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
    this.ensureCertificates(server);
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
    if (workerIds.length === 0) throw new Error('a worker credential speaks for at least one worker id');
    for (const id of workerIds) {
      if (!NODE_PATTERN.test(id) && !(id === ANY_WORKER_ID && workerIds.length === 1)) {
        throw new Error(`worker id ${JSON.stringify(id)} must be letters, digits, "_" and "-" (it ends a subject)`);
      }
    }
    const store = this.read();
    const name = `worker-${node}`;
    const identity = { ...this.newIdentity(name, 'worker'), node, workerIds: [...new Set(workerIds)] };
    this.write({ ...store, identities: [...store.identities.filter((i) => i.name !== name), identity] });
    return identity;
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
    if (!fs.existsSync(this.pidFile)) return false;
    const pid = Number(fs.readFileSync(this.pidFile, 'utf8').trim());
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

  private ensureCertificates(server: NatsServerSettings): void {
    const ca = { key: path.join(this.dir, 'ca.key'), cert: this.caFile };
    const cert = { key: path.join(this.dir, 'server.key'), cert: path.join(this.dir, 'server.pem') };
    const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    const openssl = (args: string[]) => {
      try {
        execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        throw new Error(`openssl ${args[0]} failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`);
      }
    };
    if (!fs.existsSync(ca.cert) || !fs.existsSync(ca.key)) {
      openssl(['req', '-x509', ...ecKey, '-keyout', ca.key, '-out', ca.cert, '-days', '3650', '-subj', '/CN=open-maas local NATS CA']);
      fs.rmSync(cert.cert, { force: true });
    }
    const names = ['localhost', os.hostname(), ...(server.hosts ?? [])];
    const ips = ['127.0.0.1', '::1', ...(server.host !== '0.0.0.0' && /^[\d.:]+$/.test(server.host) ? [server.host] : [])];
    const san = [...new Set(names.filter((n) => !/^[\d.:]+$/.test(n)))]
      .map((n) => `DNS:${n}`)
      .concat([...new Set([...ips, ...names.filter((n) => /^[\d.:]+$/.test(n))])].map((ip) => `IP:${ip}`))
      .join(',');
    const sanFile = path.join(this.dir, 'server.san');
    if (fs.existsSync(cert.cert) && fs.existsSync(sanFile) && fs.readFileSync(sanFile, 'utf8') === san) return;
    const csr = path.join(this.dir, 'server.csr');
    const ext = path.join(this.dir, 'server.ext');
    openssl(['req', ...ecKey, '-keyout', cert.key, '-out', csr, '-subj', '/CN=open-maas NATS']);
    fs.writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-out',
      cert.cert,
      '-days',
      '825',
      '-extfile',
      ext,
    ]);
    for (const f of [ca.key, ca.cert, cert.key, cert.cert, path.join(this.dir, 'ca.srl')]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
    fs.rmSync(csr, { force: true });
    fs.rmSync(ext, { force: true });
    writePrivate(sanFile, san);
  }

  /** The server config: listener, JetStream, TLS required, one user per identity with its allow-lists. */
  renderConfig(store: StoreFile = this.read()): string {
    const { server, identities } = store;
    const users = identities.map((identity) => renderUser(identity, server.namespace));
    return [
      '# Generated by open-maas (libs/nats/src/credential-store.ts); rewritten when credentials are issued or',
      '# revoked (`maas credentials`). deploy/nats/nats-server.conf documents the same layout.',
      `listen: ${q(`${server.host}:${server.port}`)}`,
      `pid_file: ${q(this.pidFile)}`,
      `jetstream { store_dir: ${q(server.storeDir)} }`,
      '# TLS is required: a plain-text client is refused before it can say anything.',
      'tls {',
      `  cert_file: ${q(path.join(this.dir, 'server.pem'))}`,
      `  key_file: ${q(path.join(this.dir, 'server.key'))}`,
      `  ca_file: ${q(this.caFile)}`,
      '  timeout: 5',
      '}',
      '# No anonymous user: a connection without one of these nkeys is refused.',
      'authorization {',
      '  timeout: 5',
      '  users = [',
      users.join('\n'),
      '  ]',
      '}',
      '',
    ].join('\n');
  }
}
