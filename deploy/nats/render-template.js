#!/usr/bin/env node
'use strict';
// Writes deploy/nats/nats-server.conf from the permissions the platform generates (libs/nats, built in
// dist/: run `node scripts/build.js` first), with placeholder keys and paths. e2e/deploy-files-nats.e2e-spec.ts
// fails when the file and libs/nats/src/permissions.ts disagree.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const { renderUser, SERVICE_ROLES } = require(path.join(root, 'dist', 'libs', 'nats', 'src', 'index.js'));
const out = path.join(__dirname, 'nats-server.conf');

const identities = [...SERVICE_ROLES, 'cli-admin', 'cli-readonly'].map((role) => ({
  name: role,
  role,
  publicKey: `U${role.toUpperCase().replace(/-/g, '_')}_NKEY`,
  issuedAt: 'by maas credentials',
}));
identities.push({
  name: 'worker-gpu-node-7',
  role: 'worker',
  node: 'gpu-node-7',
  workerIds: ['gpu-node-7'],
  publicKey: 'UWORKER_GPU_NODE_7_NKEY',
  issuedAt: 'by maas credentials issue worker --node gpu-node-7',
});

const current = fs.readFileSync(out, 'utf8');
const head = current.slice(0, current.indexOf('  users = [\n') + '  users = [\n'.length);
fs.writeFileSync(out, `${head}${identities.map((i) => renderUser(i, 'maas')).join('\n')}\n  ]\n}\n`);
process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
