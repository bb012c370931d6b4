#!/usr/bin/env node
'use strict';
// `npm start`: brings the whole platform up on this machine and keeps it up.
//   installs npm dependencies if missing → finds or starts NATS and PostgreSQL → builds →
//   starts every service (and the workers) as child processes with prefixed logs → restarts
//   crashed ones → prints the gateway URL once it is healthy. Ctrl-C stops everything.
// Options: --json (raw JSON log lines), --no-workers (no OCR worker, and the vm-scaler decides but
// does not act, so no chat workers either).
const path = require('node:path');
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const infra = require('./lib/infra');

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

  add(name, args, extraEnv = {}) {
    const index = this.procs.size;
    const entry = { name, args, env: extraEnv, child: undefined, restarts: 0, color: COLORS[index % COLORS.length], startedAt: 0 };
    this.procs.set(name, entry);
    this.spawn(entry);
  }

  prefix(entry) {
    return paint(entry.color, `${entry.name.padEnd(this.width)}|`);
  }

  spawn(entry) {
    entry.startedAt = Date.now();
    const child = spawn(process.execPath, entry.args, {
      cwd: infra.root,
      env: { ...process.env, ...this.env, ...entry.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: Ctrl-C reaches the supervisor, which stops things in order
    });
    entry.child = child;
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
      if (this.stopping) return;
      // A service that ran a while before crashing restarts at once; one crashing at start backs off.
      const ranFor = Date.now() - entry.startedAt;
      if (ranFor > 60_000) entry.restarts = 0;
      const delay = Math.min(30_000, 1000 * 2 ** entry.restarts);
      entry.restarts += 1;
      process.stdout.write(`${this.prefix(entry)} ${paint(31, `exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s`)}\n`);
      entry.timer = setTimeout(() => this.spawn(entry), delay);
    });
  }

  /** Last resort when the supervisor itself exits abnormally: no orphans. */
  killAll() {
    for (const entry of this.procs.values()) {
      if (entry.child && entry.child.exitCode === null) entry.child.kill('SIGTERM');
    }
  }

  async stopAll() {
    this.stopping = true;
    const exits = [];
    for (const entry of [...this.procs.values()].reverse()) {
      clearTimeout(entry.timer);
      const child = entry.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) continue;
      exits.push(new Promise((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }));
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

async function main() {
  const started = Date.now();
  infra.ensureDependencies();
  infra.build();

  const gatewayPort = Number(process.env.GATEWAY_PORT ?? 8080);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  if (await healthy(gatewayUrl, 300)) {
    infra.say(`open-maas is already running here.\nGateway: ${gatewayUrl}`);
    return;
  }

  const nats = await infra.ensureNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
  const pg = await infra.ensurePostgres(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/maas');
  const env = {
    NATS_URL: nats.url,
    DATABASE_URL: pg.url,
    MAAS_NAMESPACE: process.env.MAAS_NAMESPACE ?? 'maas',
  };
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

  for (const s of SERVICES) {
    const script = path.join(infra.root, 'dist', 'services', s.name, 'src', 'main.js');
    if (!fs.existsSync(script)) throw new Error(`${path.relative(infra.root, script)} is missing after the build`);
    const extra = s.name === 'vm-scaler' ? scalerEnv() : {};
    supervisor.add(s.name, [script], { [portVar(s.name)]: String(process.env[portVar(s.name)] ?? s.port), ...extra });
  }

  const serviceUrls = SERVICES.map((s) => `http://127.0.0.1:${process.env[portVar(s.name)] ?? s.port}`);
  const allUp = await Promise.all(serviceUrls.map((u) => healthy(u, 90_000)));
  if (!allUp.every(Boolean)) {
    const down = SERVICES.filter((_, i) => !allUp[i]).map((s) => s.name);
    infra.say(`not healthy after 90 s: ${down.join(', ')} (see their log lines above)`);
  }
  process.stdout.write(`\nAll services healthy in ${((Date.now() - started) / 1000).toFixed(1)} s.\nGateway: ${gatewayUrl}\n`);
  if (withWorkers) await require('./lib/on-start')({ supervisor, env, gatewayUrl });
  process.stdout.write('\nCtrl-C stops everything.\n\n');
}

main().catch((err) => {
  process.stderr.write(`npm start: ${err.message}\n`);
  process.exit(1);
});
