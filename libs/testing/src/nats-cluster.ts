import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';

/** One server of a private cluster. */
export interface ClusterNode {
  readonly name: string;
  readonly url: string;
  /** Kills the server (SIGKILL: a crash). */
  kill(): Promise<void>;
  /** Starts it again with its store, rejoining the cluster. */
  restart(): Promise<void>;
}

/** Three `nats-server`s on loopback in one cluster with JetStream, routes over mutual TLS (clients as the tests' shared NATS: no authentication). */
export interface PrivateNatsCluster {
  readonly nodes: readonly ClusterNode[];
  /** Every server's client URL, comma-separated: a NATS_URL seed list. */
  readonly seedList: string;
  stop(): Promise<void>;
}

/** The routes of one server: mutual TLS, as deploy/nats/cluster.conf has them (that file also secures the clients; see e2e/multi-host). */
const ROUTES_CONF = [
  'server_name: $NATS_SERVER_NAME',
  'cluster {',
  '  name: open-maas',
  '  listen: $NATS_CLUSTER_LISTEN',
  '  tls {',
  '    cert_file: $NATS_ROUTE_CERT',
  '    key_file: $NATS_ROUTE_KEY',
  '    ca_file: $NATS_ROUTE_CA',
  '    verify: true',
  '    timeout: 5',
  '  }',
  '  routes: [$NATS_ROUTE_1, $NATS_ROUTE_2, $NATS_ROUTE_3]',
  '}',
  '',
].join('\n');

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/** A CA and one certificate for 127.0.0.1 good for both ends of a route. */
function routeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const f = (name: string) => join(dir, name);
  ssl(['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=test NATS route CA']);
  ssl(['req', ...ec, '-keyout', f('route.key'), '-out', f('route.csr'), '-subj', '/CN=test NATS route']);
  writeFileSync(f('route.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  ssl([
    'x509',
    '-req',
    '-in',
    f('route.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('route.pem'),
    '-days',
    '2',
    '-extfile',
    f('route.ext'),
  ]);
  return { ca: f('ca.pem'), cert: f('route.pem'), key: f('route.key') };
}

function launch(name: string, config: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn('nats-server', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  return new Promise((ok, fail) => {
    let log = '';
    const timer = setTimeout(() => fail(new Error(`nats-server ${name} not ready within 20 s:\n${log}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        ok(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`nats-server ${name} exited with ${code} before it was ready:\n${log}`));
    });
  });
}

/**
 * Starts a 3-node cluster on loopback (plain clients without authentication, as the tests' shared
 * NATS; routes with mutual TLS) and waits until JetStream has a leader.
 */
export async function startNatsCluster(): Promise<PrivateNatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'maas-nats-cluster-'));
  const certs = routeCertificates(dir);
  writeFileSync(join(dir, 'cluster.conf'), ROUTES_CONF);
  const ports = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), route: await freePort() })));
  const routes = Object.fromEntries(ports.map((p, i) => [`NATS_ROUTE_${i + 1}`, `nats-route://127.0.0.1:${p.route}`]));
  const children: (ChildProcess | undefined)[] = [];
  const nodes = ports.map((p, i): ClusterNode & { start(): Promise<void> } => {
    const name = `n${i + 1}`;
    const store = join(dir, name);
    mkdirSync(store);
    const config = join(dir, `${name}.conf`);
    writeFileSync(
      config,
      [`listen: "127.0.0.1:${p.client}"`, `jetstream { store_dir: ${JSON.stringify(store)} }`, 'include "cluster.conf"', ''].join('\n'),
    );
    const env = {
      NATS_SERVER_NAME: name,
      NATS_CLUSTER_LISTEN: `127.0.0.1:${p.route}`,
      NATS_ROUTE_CERT: certs.cert,
      NATS_ROUTE_KEY: certs.key,
      NATS_ROUTE_CA: certs.ca,
      ...routes,
    };
    const kill = async () => {
      const c = children[i];
      children[i] = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    };
    const start = async () => {
      children[i] = await launch(name, config, env);
    };
    return { name, url: `nats://127.0.0.1:${p.client}`, kill, start, restart: async () => (await kill(), await start()) };
  });
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
    const seedList = nodes.map((n) => n.url).join(',');
    await untilJetStreamReady(seedList);
    return { nodes, seedList, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls until the cluster can place a stream on all three servers (a meta leader and every peer known), at most 60 s. */
async function untilJetStreamReady(servers: string): Promise<void> {
  const nc = await connect({ servers: servers.split(','), name: 'cluster-check' });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const jsm = await nc.jetstreamManager({ timeout: 5000 });
        await jsm.streams.add({ name: 'CLUSTER_CHECK', subjects: ['cluster-check.>'], num_replicas: 3 });
        await jsm.streams.delete('CLUSTER_CHECK');
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`JetStream of the cluster ${servers} not ready within 60 s: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await nc.close();
  }
}
