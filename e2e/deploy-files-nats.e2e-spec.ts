import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createUser } from 'nkeys.js';
import { Identity, NatsCredentialStore, renderServerConfig, renderUser, Role, SERVICE_ROLES } from '@maas/nats';

const root = path.resolve(__dirname, '..');
const template = fs.readFileSync(path.join(root, 'deploy/nats/nats-server.conf'), 'utf8');

/** The identities the template shows, with the placeholder keys it tells operators to replace. */
const placeholders: Identity[] = [
  ...([...SERVICE_ROLES, 'cli-admin', 'cli-readonly'] as Role[]).map((role) => ({
    name: role,
    role,
    publicKey: `U${role.toUpperCase().replace(/-/g, '_')}_NKEY`,
    issuedAt: 'by maas credentials',
  })),
  {
    name: 'worker-gpu-node-7',
    role: 'worker',
    node: 'gpu-node-7',
    workerIds: ['gpu-node-7'],
    publicKey: 'UWORKER_GPU_NODE_7_NKEY',
    issuedAt: 'by maas credentials issue worker --node gpu-node-7',
  },
];

describe('deploy/nats/nats-server.conf', () => {
  it('grants every identity exactly what the generated config grants it (no drift from libs/nats permissions)', () => {
    // On a difference: `node scripts/build.js && node deploy/nats/render-template.js`.
    for (const identity of placeholders) expect(template).toContain(renderUser(identity, 'maas'));
    expect(template.match(/\{ nkey: /g)).toHaveLength(placeholders.length);
  });

  it('is a config nats-server accepts once the keys and files are filled in', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-nats-template-'));
    try {
      const store = new NatsCredentialStore(path.join(dir, 'nats'));
      store.initialise({ host: '127.0.0.1', port: 4222, storeDir: path.join(dir, 'js'), namespace: 'maas' });
      let filled = template
        .replace('/var/lib/nats', path.join(dir, 'js'))
        .replace('/etc/nats/server.pem', path.join(store.dir, 'server.pem'))
        .replace('/etc/nats/server.key', path.join(store.dir, 'server.key'))
        .replace('/etc/nats/ca.pem', store.caFile);
      for (const p of placeholders) filled = filled.split(p.publicKey).join(createUser().getPublicKey());
      const file = path.join(dir, 'filled.conf');
      fs.writeFileSync(file, filled);
      const checked = spawnSync('nats-server', ['-c', file, '-t'], { encoding: 'utf8' });
      expect({ status: checked.status, output: `${checked.stdout}${checked.stderr}`.trim() }).toEqual({
        status: 0,
        output: expect.stringMatching(/configuration file .* is valid$/),
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** What deploy/nats/render-template.js writes: both templates, from the permissions table as it is now. */
const { renderTemplates } = require('../deploy/nats/render-template.js') as {
  renderTemplates(nats: { renderServerConfig: unknown; renderUser: unknown; SERVICE_ROLES: unknown }): { server: string; cluster: string };
};

describe('deploy/nats/cluster.conf', () => {
  const cluster = fs.readFileSync(path.join(root, 'deploy/nats/cluster.conf'), 'utf8');

  it('is what render-template.js makes of the permissions table now, users as nats-server.conf has them', () => {
    // On a difference: `node scripts/build.js && node deploy/nats/render-template.js`.
    expect(cluster).toBe(renderTemplates({ renderServerConfig, renderUser, SERVICE_ROLES }).cluster);
    for (const identity of placeholders) expect(cluster).toContain(renderUser(identity, 'maas'));
  });

  it('is a config nats-server accepts for each of three servers, with the files and route password `maas credentials init --cluster-node` makes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-nats-cluster-template-'));
    try {
      const nodes = [1, 2, 3].map((i) => ({ name: `nats-${i}`, host: `nats-${i}.example.org` }));
      // What an operator runs: one config, certificate and JetStream folder per server.
      const init = spawnSync(
        process.execPath,
        [
          path.join(root, 'bin/maas.js'),
          ...['credentials', 'init', '--out', path.join(dir, 'nats'), '--store-dir', path.join(dir, 'js')],
          ...nodes.flatMap((n) => ['--cluster-node', `${n.name}=${n.host}`]),
        ],
        { encoding: 'utf8' },
      );
      expect({ status: init.status, stderr: init.stderr }).toEqual({ status: 0, stderr: '' });
      const store = new NatsCredentialStore(path.join(dir, 'nats'));
      const password = fs.readFileSync(path.join(store.dir, 'route.password'), 'utf8').trim();
      const results = nodes.map((node) => {
        let filled = cluster
          .replace('/var/lib/nats', path.join(dir, 'js', node.name))
          .split('/etc/nats/server.pem')
          .join(path.join(store.dir, `server-${node.name}.pem`))
          .split('/etc/nats/server.key')
          .join(path.join(store.dir, `server-${node.name}.key`))
          .split('/etc/nats/ca.pem')
          .join(store.caFile);
        for (const p of placeholders) filled = filled.split(p.publicKey).join(createUser().getPublicKey());
        const file = path.join(dir, `${node.name}.conf`);
        fs.writeFileSync(file, filled);
        const env = {
          ...process.env,
          NATS_SERVER_NAME: node.name,
          NATS_CLIENT_ADVERTISE: `${node.host}:4222`,
          NATS_ROUTE_ADVERTISE: `${node.host}:6222`,
          NATS_ROUTE_PASSWORD: password,
          ...Object.fromEntries(nodes.map((n, i) => [`NATS_ROUTE_${i + 1}`, `nats-route://route:${password}@${n.host}:6222`])),
        };
        const checked = spawnSync('nats-server', ['-c', file, '-t'], { encoding: 'utf8', env });
        return { node: node.name, status: checked.status, output: `${checked.stdout}${checked.stderr}`.trim() };
      });
      expect(results).toEqual(
        nodes.map((n) => ({ node: n.name, status: 0, output: expect.stringMatching(/configuration file .* is valid$/) })),
      );
      // Its own configs for the same servers (as the multi-host drill runs them) are accepted too.
      for (const node of nodes) {
        const checked = spawnSync('nats-server', ['-c', store.configFileOf(node.name), '-t'], { encoding: 'utf8' });
        expect({ node: node.name, status: checked.status, output: `${checked.stdout}${checked.stderr}`.trim() }).toEqual({
          node: node.name,
          status: 0,
          output: expect.stringMatching(/configuration file .* is valid$/),
        });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
