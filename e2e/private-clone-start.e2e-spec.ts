import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
}

/** The pid of the process named `name` whose command line `matches`. */
function pidOf(name: string, matches: (argv: string[]) => boolean): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0]) === name && matches(argv)) return Number(entry);
    } catch {
      /* gone meanwhile */
    }
  }
  throw new Error(`no ${name} process found`);
}

/** nats-server started with a config file that listens on `port`, or with `-p port`. */
const natsOnPort = (port: number) => (argv: string[]) => {
  if (argv.includes('-p')) return argv[argv.indexOf('-p') + 1] === String(port);
  const file = argv.includes('-c') ? argv[argv.indexOf('-c') + 1] : undefined;
  return !!file && fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes(`:${port}"`);
};

async function healthyWithin(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined);
    if (res?.status === 200) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

const SERVICES = ['AUTH', 'KEY_REGISTRY', 'ROUTER', 'METRICS_COLLECTOR', 'VM_SCALER', 'FORECASTER'];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * A root user's clone lives under a folder only root may enter (/root is mode 700). `npm start` there,
 * with no NATS and no PostgreSQL running, must start both (PostgreSQL as the postgres user, which
 * cannot enter the clone), bring the platform up, and stop all of it on Ctrl-C; a start that fails
 * midway must stop what it had started and say why in one line.
 */
describe('npm start as root from a clone in a private folder', () => {
  let home: string;
  let clone: string;
  let systemState: string;

  beforeAll(() => {
    if (!isRoot) throw new Error('this suite checks the start as root: run npm test as root');
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-home-'));
    fs.chmodSync(home, 0o700);
    clone = path.join(home, 'open-maas');
    execFileSync('git', ['clone', '--quiet', root, clone]);
    // The dependencies as `npm ci` would lay them out, linked rather than downloaded again.
    execFileSync('cp', ['-al', path.join(root, 'node_modules'), path.join(clone, 'node_modules')]);
    systemState = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-system-state-'));
    fs.chmodSync(systemState, 0o755);
  }, 120_000);

  afterAll(() => {
    if (home) fs.rmSync(home, { recursive: true, force: true });
    if (systemState) fs.rmSync(systemState, { recursive: true, force: true });
  });

  async function env(overrides: Record<string, string> = {}) {
    const [natsPort, pgPort, gatewayPort, ...servicePorts] = await Promise.all(Array.from({ length: 9 }, freePort));
    const vars: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/maas`,
      MAAS_SYSTEM_STATE_DIR: systemState,
      MAAS_NAMESPACE: `maas-private-${process.pid}`,
      GATEWAY_PORT: String(gatewayPort),
      NO_COLOR: '1',
      ...overrides,
    };
    SERVICES.forEach((s, i) => (vars[`${s}_PORT`] = String(servicePorts[i])));
    return { vars, natsPort, pgPort, gatewayPort };
  }

  it('starts NATS, PostgreSQL and every service, serves, restarts NATS and PostgreSQL when they die, and stops everything on SIGINT', async () => {
    const { vars, natsPort, pgPort, gatewayPort } = await env();
    const child = spawn(process.execPath, ['scripts/start.js', '--no-workers'], {
      cwd: clone,
      env: vars,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => output.includes(`Gateway: http://127.0.0.1:${gatewayPort}`) || child.exitCode !== null, 150_000);
      expect(output).toContain(`Gateway: http://127.0.0.1:${gatewayPort}`);
      expect(output).toContain(`starting nats-server -js on 127.0.0.1:${natsPort}`);
      expect(output).toContain(`starting embedded PostgreSQL on 127.0.0.1:${pgPort}`);
      expect(output).toContain(`copying PostgreSQL binaries to ${systemState}`);
      expect(output).not.toMatch(/EACCES|^\s+at /m);
      const health = await fetch(`http://127.0.0.1:${gatewayPort}/health`);
      expect(health.status).toBe(200);

      // NATS and PostgreSQL dying under the running platform are started again, and the services recover.
      const routerPort = Number(vars.ROUTER_PORT);
      const keyRegistryPort = Number(vars.KEY_REGISTRY_PORT);
      process.kill(pidOf('nats-server', natsOnPort(natsPort)), 'SIGKILL');
      await waitFor(() => output.includes('nats-server is running again'), 60_000);
      expect(output).toMatch(/nats-server exited \(SIGKILL\); starting it again/);
      expect(await healthyWithin(routerPort, 90_000)).toBe(true);
      process.kill(
        pidOf('postgres', (argv) => argv[argv.indexOf('-p') + 1] === String(pgPort)),
        'SIGKILL',
      );
      await waitFor(() => output.includes('PostgreSQL is running again'), 90_000);
      expect(output).toMatch(/PostgreSQL exited \(code 1\); starting it again/);
      expect(await healthyWithin(keyRegistryPort, 90_000)).toBe(true);
      // PostgreSQL's data is outside the private folder, owned by its own user.
      const dataDirs = fs.readdirSync(systemState).map((d) => path.join(systemState, d, 'postgres'));
      expect(dataDirs.filter((d) => fs.existsSync(path.join(d, 'PG_VERSION')))).toHaveLength(1);
    } finally {
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 40_000))]);
      if (code === 'timeout') child.kill('SIGKILL');
    }
    expect(output).toContain('stopped.');
    expect(await listening(natsPort)).toBe(false);
    expect(await listening(pgPort)).toBe(false);
    expect(await listening(gatewayPort)).toBe(false);
  }, 420_000);

  it('a start that fails after NATS is up stops that NATS and gives one line, no stack', async () => {
    const { vars, natsPort } = await env();
    // 127.0.0.2 is loopback but not where an embedded PostgreSQL may be started: the start fails there.
    vars.DATABASE_URL = `postgres://postgres@127.0.0.2:${await freePort()}/maas`;
    const child = spawn(process.execPath, ['scripts/start.js', '--no-workers'], {
      cwd: clone,
      env: vars,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toContain(`starting nats-server -js on 127.0.0.1:${natsPort}`);
    const reason = stderr.trim().split('\n').slice(-1)[0];
    expect(reason).toMatch(/^npm start: PostgreSQL at 127\.0\.0\.2:\d+ is not reachable/);
    expect(`${stdout}${stderr}`).not.toMatch(/^\s+at /m);
    // the nats-server it had started is gone with it
    await new Promise((r) => setTimeout(r, 500));
    expect(await listening(natsPort)).toBe(false);
  }, 120_000);
});
