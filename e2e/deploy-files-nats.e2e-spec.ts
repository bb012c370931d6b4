import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createUser } from 'nkeys.js';
import { Identity, NatsCredentialStore, renderUser, Role, SERVICE_ROLES } from '@maas/nats';

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
