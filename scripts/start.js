#!/usr/bin/env node
'use strict';
// `npm start`: brings the whole platform up on this machine and keeps it up.
//   installs npm dependencies if missing → finds or starts NATS and PostgreSQL → builds →
//   starts every service (and the workers) as child processes with prefixed logs → restarts
//   crashed ones → prints the gateway URL once it is healthy. Ctrl-C stops everything.
// Sign-in: with Debian's SimpleSAMLphp, a development IdP on loopback with a test user; without it, a
// one-time sign-in link for the quick-start admin. The gateway proxies /auth and /portal to auth.
const path = require('node:path');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const infra = require('./lib/infra');
const devIdp = require('./lib/dev-idp');
const { issueSignInLink } = require('./lib/sign-in-link');

const USAGE = `usage: npm start [-- options]

Brings the whole platform up on this machine: NATS and PostgreSQL (found or started), every service
and the workers under one supervisor; prints the gateway URL, how to sign in to the portal, and a
first API key. Ctrl-C stops everything.

options:
  --json          print the services' raw JSON log lines
  --no-workers    no OCR or speech worker, and the vm-scaler decides without acting (no chat workers)
  -h, --help      print this and exit

environment (defaults in brackets):
  NATS_URL [nats://127.0.0.1:4222]   DATABASE_URL [postgres://postgres@127.0.0.1:5432/maas]
  NATS started here requires TLS and an nkey per part (CA, config and credentials in .maas/nats, mode 600);
  a NATS already running is used with NATS_NKEY (or NATS_CREDS, or NATS_USER and NATS_PASSWORD) and NATS_CA,
  or without authentication only with MAAS_NATS_INSECURE=1
  MAAS_STATE_DIR [.maas]             state: embedded PostgreSQL, worker logs, keys, the development IdP
  MAAS_WORKER_KEY_SECRET             derives the key each worker's runtime demands, which the gateway sends;
                                     unset: made once per installation, kept in .maas/worker-key-secret (mode 600)
  GATEWAY_PORT [8080]  AUTH_PORT [8081]  KEY_REGISTRY_PORT [8082]  ROUTER_PORT [8083]
  METRICS_COLLECTOR_PORT [8084]  VM_SCALER_PORT [8085]  FORECASTER_PORT [8086]
  MAAS_OCR_PORT [8010]  MAAS_SPEECH_PORT [8020]  MAAS_DEV_IDP_PORT [8090]
  MAAS_DEV_IDP [on]                  off: no development IdP even when SimpleSAMLphp is installed
  SAML_IDP_METADATA                  your own IdP: auth uses it (with SAML_SP_KEY_FILE/CERT_FILE) instead
  GATEWAY_WEBUI_URL                  Open WebUI, proxied by the gateway to signed-in users
`;
const FLAGS = new Set(['--json', '--no-workers', '--help', '-h']);
/** How long the one-time sign-in link printed without an IdP stays valid. */
const SIGN_IN_LINK_TTL_MS = 15 * 60_000;

const SERVICES = [
  { name: 'key-registry', port: 8082 },
  { name: 'router', port: 8083 },
  { name: 'metrics-collector', port: 8084 },
  { name: 'forecaster', port: 8086 },
  { name: 'vm-scaler', port: 8085 },
  { name: 'auth', port: 8081 },
  { name: 'gateway', port: 8080 },
];

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const unknown = argv.find((a) => !FLAGS.has(a));
if (unknown !== undefined) {
  process.stderr.write(`npm start: unknown option ${JSON.stringify(unknown)} (npm start -- --help lists them)\n`);
  process.exit(2);
}
const rawJson = argv.includes('--json');
const withWorkers = !argv.includes('--no-workers');
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const COLORS = [36, 32, 33, 35, 34, 31, 96, 92, 93, 95];
const paint = (code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const portVar = (name) => `${name.toUpperCase().replace(/-/g, '_')}_PORT`;

function formatLine(line) {
  if (rawJson) return line;
  try {
    const r = JSON.parse(line);
    const { ts, level, service, msg, ...rest } = r;
    const time = typeof ts === 'string' ? ts.slice(11, 19) : '';
    const fields = Object.entries(rest)
      .filter(([k]) => k !== 'span_id')
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    const lvl = level === 'error' ? paint(31, 'ERROR') : level === 'warn' ? paint(33, 'WARN ') : level === 'debug' ? 'debug' : 'info ';
    return `${time} ${lvl} ${msg}${fields ? ` ${paint(90, fields)}` : ''}`;
  } catch {
    return line;
  }
}

class Supervisor {
  constructor(env) {
    this.env = env;
    this.procs = new Map();
    this.stopping = false;
    this.width = 18;
  }

  /** `command` (default: this node) with `args`; `group`: it forks helpers (php -S), stopped with it as a process group. */
  add(name, args, extraEnv = {}, { command = process.execPath, group = false } = {}) {
    const index = this.procs.size;
    const entry = {
      name,
      command,
      group,
      args,
      env: extraEnv,
      child: undefined,
      restarts: 0,
      color: COLORS[index % COLORS.length],
      startedAt: 0,
    };
    this.procs.set(name, entry);
    this.spawn(entry);
  }

  prefix(entry) {
    return paint(entry.color, `${entry.name.padEnd(this.width)}|`);
  }

  spawn(entry) {
    entry.startedAt = Date.now();
    const child = spawn(entry.command, entry.args, {
      cwd: infra.root,
      env: { ...process.env, ...this.env, ...entry.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: Ctrl-C reaches the supervisor, which stops things in order
    });
    entry.child = child;
    child.on('error', (err) =>
      process.stdout.write(`${this.prefix(entry)} ${paint(31, `cannot start ${entry.command}: ${err.message}`)}\n`),
    );
    const pipe = (stream) => {
      let rest = '';
      stream.on('data', (chunk) => {
        const parts = (rest + chunk.toString('utf8')).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) if (line.trim()) process.stdout.write(`${this.prefix(entry)} ${formatLine(line)}\n`);
      });
    };
    pipe(child.stdout);
    pipe(child.stderr);
    child.once('exit', (code, signal) => {
      if (this.stopping || entry.stopped) return;
      // A service that ran a while before crashing restarts at once; one crashing at start backs off.
      const ranFor = Date.now() - entry.startedAt;
      if (ranFor > 60_000) entry.restarts = 0;
      const delay = Math.min(30_000, 1000 * 2 ** entry.restarts);
      entry.restarts += 1;
      process.stdout.write(`${this.prefix(entry)} ${paint(31, `exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s`)}\n`);
      entry.timer = setTimeout(() => this.spawn(entry), delay);
    });
  }

  signal(entry, signal) {
    if (entry.group) {
      try {
        return void process.kill(-entry.child.pid, signal);
      } catch {
        /* the group is gone: signal the child alone */
      }
    }
    entry.child.kill(signal);
  }

  /** Last resort when the supervisor itself exits abnormally: no orphans. */
  killAll() {
    for (const entry of this.procs.values()) {
      if (entry.child && entry.child.pid && entry.child.exitCode === null) this.signal(entry, 'SIGTERM');
    }
  }

  /** Stops one process for good (no restart). */
  async stop(name) {
    const entry = this.procs.get(name);
    if (!entry) return;
    this.procs.delete(name);
    clearTimeout(entry.timer);
    const child = entry.child;
    if (!child || !child.pid || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    entry.stopped = true;
    this.signal(entry, 'SIGTERM');
    await exited;
  }

  async stopAll() {
    this.stopping = true;
    const exits = [];
    for (const entry of [...this.procs.values()].reverse()) {
      clearTimeout(entry.timer);
      const child = entry.child;
      if (!child || !child.pid || child.exitCode !== null || child.signalCode !== null) continue;
      exits.push(
        new Promise((resolve) => {
          const kill = setTimeout(() => this.signal(entry, 'SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          this.signal(entry, 'SIGTERM');
        }),
      );
    }
    await Promise.all(exits);
  }
}

/** The local provider's workers log under .maas/workers; without workers the scaler only decides. */
function scalerEnv() {
  const env = { SCALING_LOG_DIR: process.env.SCALING_LOG_DIR ?? path.join(infra.stateDir, 'workers') };
  if (!withWorkers) env.SCALING_ACT = 'false';
  return env;
}

/**
 * The secret the key each worker's runtime demands is derived from, shared by the gateway and the
 * vm-scaler's workers: the environment's, else one made once per installation and kept in the state
 * folder (owner-only), so that no runtime port answers a caller without its key.
 */
function workerKeySecret() {
  const { MIN_WORKER_KEY_SECRET_LENGTH } = require(path.join(infra.root, 'dist', 'libs', 'worker-agent', 'src', 'runtime-key.js'));
  const given = process.env.MAAS_WORKER_KEY_SECRET;
  if (given) {
    if (given.length < MIN_WORKER_KEY_SECRET_LENGTH)
      throw new Error(`MAAS_WORKER_KEY_SECRET must be at least ${MIN_WORKER_KEY_SECRET_LENGTH} characters, got ${given.length}`);
    return given;
  }
  const file = path.join(infra.stateDir, 'worker-key-secret');
  const kept = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  if (kept.length >= MIN_WORKER_KEY_SECRET_LENGTH) return kept;
  const made = require('node:crypto').randomBytes(32).toString('hex');
  fs.mkdirSync(infra.stateDir, { recursive: true });
  fs.writeFileSync(file, `${made}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return made;
}

async function healthy(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** A port from the environment, or a one-line error naming the variable. */
function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${name} must be a port number (1-65535), got ${JSON.stringify(raw)}`);
  return port;
}

/**
 * How people sign in: the operator's own IdP (SAML_IDP_METADATA), else the development IdP when
 * SimpleSAMLphp is installed (started here, before auth, which reads its metadata at start-up), else a
 * one-time link. Returns the environment auth and the gateway need, and `announce`, which prints the
 * portal and the way in once everything is healthy.
 */
async function prepareSignIn(supervisor, gatewayUrl) {
  const authUrl = `http://127.0.0.1:${process.env.AUTH_PORT ?? 8081}`;
  const portal = `${gatewayUrl}/portal`;
  const gatewayEnv = { GATEWAY_AUTH_URL: process.env.GATEWAY_AUTH_URL ?? authUrl };
  const authEnv = { AUTH_PUBLIC_URL: process.env.AUTH_PUBLIC_URL ?? gatewayUrl };
  const webui = () => {
    if (!process.env.GATEWAY_WEBUI_URL) return '';
    const mount = (process.env.GATEWAY_WEBUI_PATH ?? '/').replace(/\/+$/, '');
    return `Open WebUI (${process.env.GATEWAY_WEBUI_URL}), behind the same sign-in: ${gatewayUrl}${mount || '/'}\n`;
  };
  if (process.env.SAML_IDP_METADATA) {
    return {
      authEnv,
      gatewayEnv,
      announce: async () => process.stdout.write(`Portal: ${portal} (sign in with the IdP in SAML_IDP_METADATA)\n${webui()}`),
    };
  }

  const wanted = !/^(off|0|false|no)$/i.test(process.env.MAAS_DEV_IDP ?? '');
  let idp;
  if (wanted && devIdp.available()) {
    const port = portFromEnv('MAAS_DEV_IDP_PORT', 8090);
    try {
      idp = devIdp.prepareDevIdp({ stateDir: infra.stateDir, port });
    } catch (err) {
      infra.say(`the development IdP could not be set up (${err.message.split('\n')[0]}): signing in with a one-time link instead`);
    }
  } else if (wanted) {
    infra.say(
      'SimpleSAMLphp is not installed: no development IdP, a one-time sign-in link instead (scripts/install-system-packages.sh installs it)',
    );
  }
  if (idp) {
    supervisor.add('dev-idp', idp.server.args, idp.server.env, { command: idp.server.command, group: true });
    const php = supervisor.procs.get('dev-idp');
    if (await idp.saveMetadata(20_000, () => php.child.pid !== undefined && php.child.exitCode === null)) {
      const rel = (p) => (p.startsWith(`${process.cwd()}${path.sep}`) ? path.relative(process.cwd(), p) : p);
      return {
        // The operator's own administrators stay administrators.
        authEnv: { ...authEnv, ...idp.authEnv, AUTH_ADMINS: [process.env.AUTH_ADMINS, idp.authEnv.AUTH_ADMINS].filter(Boolean).join(',') },
        gatewayEnv,
        async announce() {
          try {
            await idp.trust(`${gatewayUrl}/auth/saml/metadata`);
          } catch (err) {
            infra.say(`the development IdP could not be given auth's SAML metadata: ${err.message}`);
          }
          process.stdout.write(
            `Portal: ${portal}\n` +
              `  Sign in at the DEVELOPMENT IdP (SimpleSAMLphp at ${idp.baseUrl}, loopback only, not for production)\n` +
              `  as ${idp.login.username} / ${idp.login.password} (${idp.login.email}, an administrator; password kept in ${rel(idp.secretsFile)})\n${webui()}`,
          );
        },
      };
    }
    infra.say(
      `the development IdP did not answer at ${idp.metadataUrl}: signing in with a one-time link instead (its log: ${idp.logFile})`,
    );
    await supervisor.stop('dev-idp');
  }

  const linkFile = path.join(infra.stateDir, 'sign-in-link.json');
  // A link printed by an earlier start stops working now, not only once this start prints its own.
  fs.rmSync(linkFile, { force: true });
  return {
    authEnv: { ...authEnv, AUTH_SIGN_IN_LINK_FILE: linkFile },
    gatewayEnv,
    async announce() {
      // A new link on every start; the one printed by an earlier start stops working.
      const link = issueSignInLink({
        file: linkFile,
        publicUrl: authEnv.AUTH_PUBLIC_URL,
        email: 'admin@localhost',
        displayName: 'Quick-start admin',
        admin: true,
        ttlMs: SIGN_IN_LINK_TTL_MS,
      });
      process.stdout.write(
        `Portal: ${portal}\n  One-time sign-in link for admin@localhost (an administrator; works once, within ${SIGN_IN_LINK_TTL_MS / 60_000} min):\n  ${link.url}\n${webui()}`,
      );
    },
  };
}

/** Starts `name` again whenever the process we started for it exits while the platform is up. */
function keepRunning(name, current, restart, stopping) {
  const watch = () => {
    const child = current().child;
    if (!child) return; // found running, not ours to restart
    child.once('exit', async (code, signal) => {
      if (stopping()) return;
      infra.say(paint(31, `${name} exited (${signal ?? `code ${code}`}); starting it again`));
      for (let attempt = 0; !stopping(); attempt += 1) {
        try {
          await restart();
          infra.say(`${name} is running again`);
          watch();
          return;
        } catch (err) {
          const delay = Math.min(30_000, 1000 * 2 ** attempt);
          infra.say(paint(31, `${name} did not start: ${infra.lastLine(err.message)}; trying again in ${delay / 1000} s`));
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    });
  };
  watch();
}

async function main() {
  const started = Date.now();
  infra.ensureDependencies();
  infra.build();

  const gatewayPort = Number(process.env.GATEWAY_PORT ?? 8080);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  if (await healthy(gatewayUrl, 300)) {
    infra.say(`open-maas is already running here.\nGateway: ${gatewayUrl}\nPortal: ${gatewayUrl}/portal`);
    return;
  }

  const namespace = process.env.MAAS_NAMESPACE ?? 'maas';
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/maas';
  let nats = await infra.ensureNats(natsUrl, { secure: true, namespace });
  let pg = await infra.ensurePostgres(databaseUrl);
  const env = {
    NATS_URL: nats.url,
    DATABASE_URL: pg.url,
    MAAS_NAMESPACE: namespace,
  };
  // Each part signs in to the NATS started here as itself; with a NATS found running, all use this environment's credentials.
  const natsEnv = (identity) =>
    nats.credentials
      ? { ...nats.credentials.envFor(identity), NATS_USER: '', NATS_PASSWORD: '', NATS_CREDS: '', MAAS_NATS_INSECURE: '' }
      : {};
  const supervisor = new Supervisor(env);

  let shuttingDown = false;
  const shutdown = async (signal) => {
    if (shuttingDown) return;
    shuttingDown = true;
    infra.say(`\n${signal}: stopping every service …`);
    await supervisor.stopAll();
    await pg.stop().catch(() => {});
    await nats.stop().catch(() => {});
    infra.say('stopped.');
    process.exit(0);
  };
  process.on('exit', () => {
    supervisor.killAll();
    for (const owned of [pg.child, nats.child]) if (owned && owned.exitCode === null) owned.kill('SIGTERM');
  });
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // NATS and PostgreSQL started here are supervised too: when one dies it is started again on the same
  // port and data (the services reconnect by themselves), and the operator is told.
  keepRunning(
    'nats-server',
    () => nats,
    async () => (nats = await infra.ensureNats(natsUrl, { secure: true, namespace })),
    () => shuttingDown,
  );
  keepRunning(
    'PostgreSQL',
    () => pg,
    async () => (pg = await infra.ensurePostgres(databaseUrl)),
    () => shuttingDown,
  );

  const signIn = await prepareSignIn(supervisor, gatewayUrl);
  // The gateway sends each runtime its key; the vm-scaler hands the secret to the workers it starts.
  const workerKeys = { MAAS_WORKER_KEY_SECRET: workerKeySecret() };
  for (const s of SERVICES) {
    const script = path.join(infra.root, 'dist', 'services', s.name, 'src', 'main.js');
    if (!fs.existsSync(script)) throw new Error(`${path.relative(infra.root, script)} is missing after the build`);
    const extra =
      s.name === 'vm-scaler'
        ? { ...scalerEnv(), ...workerKeys }
        : s.name === 'auth'
          ? signIn.authEnv
          : s.name === 'gateway'
            ? { ...signIn.gatewayEnv, ...workerKeys }
            : {};
    // The vm-scaler's workers sign in as workers, each with a credential of its own node, issued from the store of
    // the NATS this start runs (and revoked when the node stops).
    const workers = s.name === 'vm-scaler' && nats.credentials ? { SCALING_WORKER_NATS_DIR: nats.credentials.dir } : {};
    supervisor.add(s.name, [script], {
      [portVar(s.name)]: String(process.env[portVar(s.name)] ?? s.port),
      ...extra,
      ...natsEnv(s.name),
      ...workers,
    });
  }

  const serviceUrls = SERVICES.map((s) => `http://127.0.0.1:${process.env[portVar(s.name)] ?? s.port}`);
  const allUp = await Promise.all(serviceUrls.map((u) => healthy(u, 90_000)));
  const took = `${((Date.now() - started) / 1000).toFixed(1)} s`;
  if (!allUp.every(Boolean)) {
    const down = SERVICES.filter((_, i) => !allUp[i]).map((s) => s.name);
    infra.say(`not healthy after 90 s: ${down.join(', ')} (see their log lines above)`);
  }
  process.stdout.write(
    `\n${allUp.every(Boolean) ? `All services healthy in ${took}` : `Started in ${took}, not all healthy`}.\nGateway: ${gatewayUrl}\n`,
  );
  await signIn.announce();
  if (withWorkers)
    await require('./lib/on-start')({ supervisor, env, gatewayUrl, natsEnv, workerKeySecret: workerKeys.MAAS_WORKER_KEY_SECRET });
  process.stdout.write('\nCtrl-C stops everything.\n\n');
}

main().catch((err) => {
  process.stderr.write(`npm start: ${err.message}\n`);
  process.exit(1);
});
