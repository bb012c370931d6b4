import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SERVICE_NAMES } from '@maas/platform';

const root = path.resolve(__dirname, '..');

describe('deployment files', () => {
  it('docker-compose.yml validates with docker-compose v1 and runs nats, postgres and every service', () => {
    const out = execFileSync('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), 'config'], { encoding: 'utf8', env: { ...process.env, KEY_HASH_SECRET: 'x' } });
    for (const name of ['nats', 'postgres', ...SERVICE_NAMES]) expect(out).toMatch(new RegExp(`^  ${name}:$`, 'm'));
  });

  it('nest-cli.json declares every service as an application and every lib as a library', () => {
    const cli = JSON.parse(fs.readFileSync(path.join(root, 'nest-cli.json'), 'utf8'));
    expect(cli.monorepo).toBe(true);
    for (const name of SERVICE_NAMES) expect(cli.projects[name]).toMatchObject({ type: 'application', root: `services/${name}` });
    for (const lib of fs.readdirSync(path.join(root, 'libs'))) expect(cli.projects[lib]).toMatchObject({ type: 'library', root: `libs/${lib}` });
  });

  it('the maas CLI lists its commands and fails with one line on an unknown one', () => {
    const ok = spawnSync(process.execPath, [path.join(root, 'bin/maas.js'), '--help'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/usage: maas <command>/);
    const bad = spawnSync(process.execPath, [path.join(root, 'bin/maas.js'), 'no-such-command'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});
