import { ProvidedWorkerCredentials, workerEnvironment } from './worker-environment';

describe('a worker’s environment', () => {
  it("passes the allow-listed part of the scaler's environment and its own values, never the scaler's credentials", () => {
    const parent = {
      PATH: '/usr/bin',
      NATS_CA: '/etc/nats/ca.pem',
      NATS_NKEY: '/etc/maas/vm-scaler.nk',
      NATS_CREDS: '/etc/maas/vm-scaler.creds',
      DATABASE_URL: 'postgres://scaler:secret@db/maas',
      SCALING_MDX_PASSWORD: 'secret',
      CUDA_VISIBLE_DEVICES: '0',
    };
    expect(workerEnvironment(parent, { NATS_URL: 'nats://n:4222', NATS_NKEY: '/nats/credentials/worker-n1.nk' })).toEqual({
      PATH: '/usr/bin',
      NATS_CA: '/etc/nats/ca.pem',
      CUDA_VISIBLE_DEVICES: '0',
      NATS_URL: 'nats://n:4222',
      NATS_NKEY: '/nats/credentials/worker-n1.nk',
    });
    expect(workerEnvironment(parent, {})).not.toHaveProperty('NATS_NKEY');
  });
});

describe('credentials the operator provides', () => {
  it.each([
    ['one seed file per node', '/etc/maas/workers/{node}.nk', 'slurm-17', { NATS_NKEY: '/etc/maas/workers/slurm-17.nk' }],
    ['one seed file for every node', '/etc/maas/worker.nk', 'local-a-001', { NATS_NKEY: '/etc/maas/worker.nk' }],
    ['none: the worker signs in with nothing', undefined, 'local-a-001', {}],
  ])('%s', (_, seedFile, node, env) => {
    const credentials = new ProvidedWorkerCredentials(seedFile);
    expect(credentials.issue(node)).toEqual(env);
    // nothing to grant or revoke: the operator's files are left as they are
    credentials.grant();
    credentials.revoke();
    expect(credentials.issue(node)).toEqual(env);
  });
});
