#!/usr/bin/env node
'use strict';
// Writes deploy/nats/nats-server.conf and deploy/nats/cluster.conf from the permissions the platform
// generates (libs/nats, built in dist/: run `node scripts/build.js` first), with placeholder keys, paths
// and, for the cluster, each server's own values left to its environment ($NATS_SERVER_NAME …).
// The comment block at the top of each file is kept. e2e/deploy-files-nats.e2e-spec.ts fails when a file
// and libs/nats/src/permissions.ts disagree.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const files = { server: path.join(__dirname, 'nats-server.conf'), cluster: path.join(__dirname, 'cluster.conf') };

/** The identities the templates show, with the placeholder keys they tell operators to replace. */
function placeholderIdentities(SERVICE_ROLES) {
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
  return identities;
}

/** The comment block a template file starts with (its documentation), up to the first setting. */
function headOf(text) {
  const lines = text.split('\n');
  const end = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
  return lines.slice(0, end === -1 ? lines.length : end);
}

/**
 * Both templates as they should read now: { server, cluster }, each the file's whole text. `nats`: the
 * libs/nats functions (default: the build in dist/; a test passes the ones it has loaded).
 */
function renderTemplates(nats = require(path.join(root, 'dist', 'libs', 'nats', 'src', 'index.js'))) {
  const { renderServerConfig, renderUser, SERVICE_ROLES } = nats;
  const identities = placeholderIdentities(SERVICE_ROLES);
  const current = { server: fs.readFileSync(files.server, 'utf8'), cluster: fs.readFileSync(files.cluster, 'utf8') };
  const head = current.server.slice(0, current.server.indexOf('  users = [\n') + '  users = [\n'.length);
  const server = `${head}${identities.map((i) => renderUser(i, 'maas')).join('\n')}\n  ]\n}\n`;
  const cluster = renderServerConfig(
    {
      listen: '0.0.0.0:4222',
      clientAdvertise: '$NATS_CLIENT_ADVERTISE',
      storeDir: '/var/lib/nats',
      cert: '/etc/nats/server.pem',
      key: '/etc/nats/server.key',
      ca: '/etc/nats/ca.pem',
      cluster: {
        serverName: '$NATS_SERVER_NAME',
        clusterName: 'open-maas',
        listen: '0.0.0.0:6222',
        advertise: '$NATS_ROUTE_ADVERTISE',
        routes: ['$NATS_ROUTE_1', '$NATS_ROUTE_2', '$NATS_ROUTE_3'],
        routePassword: '$NATS_ROUTE_PASSWORD',
      },
      identities,
      namespace: 'maas',
    },
    headOf(current.cluster),
  );
  return { server, cluster, identities };
}

module.exports = { renderTemplates, files };

if (require.main === module) {
  const rendered = renderTemplates();
  for (const which of ['server', 'cluster']) {
    fs.writeFileSync(files[which], rendered[which]);
    process.stdout.write(`wrote ${path.relative(process.cwd(), files[which])}\n`);
  }
}
