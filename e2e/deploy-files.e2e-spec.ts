import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, nkeyAuthenticator } from 'nats';
import { NatsCredentialStore } from '@maas/nats';
import { SERVICE_NAMES } from '@maas/platform';
import {
  createTestDatabase,
  requireSystemPart,
  startNode,
  StartedProcess,
  StartedService,
  startService,
  TestDatabase,
  testNamespace,
  testNatsUrl,
} from '@maas/testing';
import { captureSamlResponse, CookieJar, freePort, send } from './support/saml-idp';

const root = path.resolve(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

interface ComposeService {
  build?: { context: string; dockerfile: string; target?: string };
  image?: string;
  command?: string[];
  hostname?: string;
  environment?: Record<string, string>;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  volumes?: ({ type: string; source: string; target: string } | string)[];
}

/**
 * `docker-compose config` as docker-compose v1 resolves it (anchors merged, variables filled in), parsed
 * with the YAML library of docker-compose's own Python: the file is judged by the tool that runs it.
 */
function composeConfig(): { services: Record<string, ComposeService>; volumes: Record<string, unknown> } {
  requireSystemPart('compose');
  const file = path.join(root, 'docker-compose.yml');
  const text = execFileSync('docker-compose', ['-f', file, 'config'], {
    encoding: 'utf8',
    env: { ...process.env, KEY_HASH_SECRET: 'x', GRAFANA_ADMIN_PASSWORD: 'y' },
  });
  return yamlToJson(text, composePython()) as ReturnType<typeof composeConfig>;
}

describe('docker-compose.yml secrets', () => {
  it('refuses to resolve without KEY_HASH_SECRET and GRAFANA_ADMIN_PASSWORD instead of falling back to a known value', () => {
    requireSystemPart('compose');
    const file = path.join(root, 'docker-compose.yml');
    const { KEY_HASH_SECRET: _k, GRAFANA_ADMIN_PASSWORD: _g, ...rest } = process.env;
    const run = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env: rest });
    expect(run.status).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toMatch(/KEY_HASH_SECRET/);
    const text = execFileSync('docker-compose', ['-f', file, 'config'], {
      encoding: 'utf8',
      env: { ...process.env, KEY_HASH_SECRET: 's3cret-value', GRAFANA_ADMIN_PASSWORD: 'y' },
    });
    expect(text).not.toMatch(/change-me/);
  });
});

function yamlToJson(text: string, python: string): unknown {
  return JSON.parse(
    execFileSync(python, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
      input: text,
      encoding: 'utf8',
    }),
  );
}

/** docker-compose's Python (it has PyYAML). */
function composePython(): string {
  const launcher = execFileSync('sh', ['-c', 'command -v docker-compose'], { encoding: 'utf8' }).trim();
  return /^#!\s*(\S+)/.exec(fs.readFileSync(launcher, 'utf8').split('\n')[0])?.[1] ?? 'python3';
}

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** A Dockerfile's stages: FROM image-or-stage AS name, and the instructions under it. */
function stages(dockerfile: string): Stage[] {
  const out: Stage[] = [];
  for (const raw of dockerfile.replace(/\\\n/g, ' ').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ name: from[2] ?? `#${out.length}`, from: from[1], lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

/** The last value of an instruction in a stage or the stages it is built FROM. */
function inherited(all: Stage[], name: string, instruction: string): string | undefined {
  for (let stage = all.find((s) => s.name === name); stage; stage = all.find((s) => s.name === stage!.from)) {
    const found = stage.lines.filter((l) => l.toUpperCase().startsWith(`${instruction} `)).at(-1);
    if (found) return found.slice(instruction.length + 1).trim();
  }
  return undefined;
}

const mountOf = (service: ComposeService, target: string) =>
  service.volumes
    ?.map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v))
    .find((v) => v.target === target);

describe('deployment files', () => {
  const compose = composeConfig();
  const services = compose.services;
  const dockerfile = stages(read('deploy/docker/Dockerfile'));

  it('docker-compose.yml validates with docker-compose v1 and runs nats, postgres, every service, a worker, the IdP, Prometheus and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['nats-credentials', 'nats', 'postgres', ...SERVICE_NAMES, 'worker-qwen', 'saml-idp', 'open-webui', 'prometheus', 'grafana'].sort(),
    );
  });

  it('every container has a health check, but a one-shot one the others wait to complete', () => {
    const oneShots = new Set(
      Object.values(services).flatMap((s) =>
        Object.entries(s.depends_on ?? {})
          .filter(([, d]) => d.condition === 'service_completed_successfully')
          .map(([n]) => n),
      ),
    );
    expect([...oneShots]).toEqual(['nats-credentials']);
    for (const [name, service] of Object.entries(services).filter(([n]) => !oneShots.has(n))) {
      expect({ name, disabled: service.healthcheck?.disable ?? false }).toEqual({ name, disabled: false });
      expect({ name, test: service.healthcheck?.test?.[0] }).toEqual({ name, test: expect.stringMatching(/^CMD(-SHELL)?$/) });
    }
    // the platform's services check their own /health; their dependencies are started healthy first
    for (const name of SERVICE_NAMES) {
      expect(services[name].healthcheck!.test).toEqual(['CMD', 'node', 'deploy/docker/healthcheck.js']);
      expect(services[name].depends_on).toMatchObject({
        nats: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
      });
    }
  });

  describe('NATS: TLS and an nkey per part, made by the one-shot nats-credentials', () => {
    const SECRETS = '/nats-secrets';
    const init = services['nats-credentials'];
    const natsClients = Object.entries(services).filter(([, s]) => s.environment?.NATS_URL);
    const volumeOf = (service: ComposeService) =>
      service.volumes
        ?.map((v) => (typeof v === 'string' ? v.split(':') : [v.source, v.target, (v as { read_only?: boolean }).read_only ? 'ro' : 'rw']))
        .find(([, target]) => target === SECRETS);

    it('no service runs NATS insecure; each signs in with a seed of its own from the volume, read-only, with the CA', () => {
      expect(natsClients.map(([n]) => n).sort()).toEqual([...SERVICE_NAMES, 'worker-qwen'].sort());
      for (const [name, service] of natsClients) {
        const env = service.environment!;
        expect({ name, insecure: /^(1|true|yes|on)$/i.test(env.MAAS_NATS_INSECURE ?? '') }).toEqual({ name, insecure: false });
        expect({ name, ca: env.NATS_CA, user: env.NATS_USER, creds: env.NATS_CREDS }).toEqual({ name, ca: `${SECRETS}/ca.pem` });
        expect({ name, volume: volumeOf(service) }).toEqual({ name, volume: ['nats-secrets', SECRETS, 'ro'] });
      }
      for (const name of SERVICE_NAMES) expect(services[name].environment!.NATS_NKEY).toBe(`${SECRETS}/credentials/${name}.nk`);
      const seeds = natsClients.map(([, s]) => s.environment!.NATS_NKEY);
      expect(new Set(seeds).size).toBe(natsClients.length);
      // the vm-scaler's workers get a worker credential, not the vm-scaler's
      expect(services['vm-scaler'].environment!.MAAS_WORKER_NATS_NKEY).toBe(`${SECRETS}/credentials/worker-local.nk`);
      // NATS starts only from what nats-credentials wrote, and reads it read-only
      expect(services.nats.depends_on).toEqual({ 'nats-credentials': { condition: 'service_completed_successfully' } });
      expect(volumeOf(services.nats)).toEqual(['nats-secrets', SECRETS, 'ro']);
      expect(services.nats.command!.slice(0, 2)).toEqual(['-c', `${SECRETS}/nats-server.conf`]);
      expect(volumeOf(init)).toEqual(['nats-secrets', SECRETS, 'rw']);
      // the same image as the services
      expect(init.build!.dockerfile).toBe('deploy/docker/Dockerfile');
      expect(init.image).toBe(services[init.build!.target!].image);
    });

    it("nats-credentials' command, run here, writes a config nats-server accepts and runs: every seed compose names signs in as its part, an anonymous client is refused", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-compose-nats-'));
      let server: ReturnType<typeof spawn> | undefined;
      try {
        const command = init.command!;
        expect(command.slice(0, 4)).toEqual(['node', 'bin/maas.js', 'credentials', 'init']);
        // As in the container, but into a temp folder; the JetStream folder (NATS' /data) too.
        const local = (p: string) => p.replace(SECRETS, path.join(dir, 'secrets'));
        const args = command
          .slice(2)
          .map((a, i, all) => (all[i - 1] === '--out' ? local(a) : all[i - 1] === '--store-dir' ? path.join(dir, 'data') : a));
        for (let run = 0; run < 2; run++) {
          // twice: a second `docker-compose up` keeps every credential
          const r = spawnSync(process.execPath, [path.join(root, 'bin/maas.js'), ...args], { encoding: 'utf8' });
          expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
        }
        const config = local(services.nats.command![1]);
        const checked = spawnSync('nats-server', ['-c', config, '-t'], { encoding: 'utf8' });
        expect({ status: checked.status, output: `${checked.stdout}${checked.stderr}`.trim() }).toEqual({
          status: 0,
          output: expect.stringMatching(/configuration file .* is valid$/),
        });
        const text = fs.readFileSync(config, 'utf8');
        expect(text).toContain(`store_dir: ${JSON.stringify(path.join(dir, 'data'))}`);
        const identities = new NatsCredentialStore(local(SECRETS)).identities();
        for (const [name, service] of natsClients) {
          const seed = local(service.environment!.NATS_NKEY);
          expect({ name, mode: (fs.statSync(seed).mode & 0o777).toString(8) }).toEqual({ name, mode: '600' });
          const identity = identities.find((i) => i.publicKey === NatsCredentialStore.publicKeyOf(seed));
          expect({ name, role: identity?.role }).toEqual({ name, role: name === 'worker-qwen' ? 'worker' : name });
          expect(text).toContain(`nkey: ${JSON.stringify(identity!.publicKey)}`);
        }
        const qwen = services['worker-qwen'].command!;
        expect(identities.find((i) => i.name === 'worker-qwen')?.workerIds).toEqual([qwen[qwen.indexOf('--worker-id') + 1]]);
        expect(identities.find((i) => i.name === 'worker-local')?.workerIds).toEqual(['*']);

        // The server itself, on a port of its own here: the services' seeds sign in, nobody signs in without one.
        const port = await freePort();
        server = spawn('nats-server', ['-c', config, '-a', '127.0.0.1', '-p', String(port), '-P', path.join(dir, 'pid')], {
          stdio: 'ignore',
        });
        const url = `nats://127.0.0.1:${port}`;
        const signIn = async (seed?: string) => {
          for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 100))) {
            const outcome = await connect({
              servers: url,
              reconnect: false,
              tls: { caFile: local(`${SECRETS}/ca.pem`) },
              ...(seed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(fs.readFileSync(seed, 'utf8').trim())) } : {}),
            }).then(
              async (nc) => (await nc.close(), 'signed in'),
              (err: { code?: string }) => `refused: ${err.code}`,
            );
            if (outcome !== 'refused: CONNECTION_REFUSED' || Date.now() > deadline) return outcome;
          }
        };
        for (const [name, service] of natsClients)
          expect({ name, outcome: await signIn(local(service.environment!.NATS_NKEY)) }).toEqual({ name, outcome: 'signed in' });
        expect(await signIn()).toBe('refused: AUTHORIZATION_VIOLATION');
      } finally {
        server?.kill('SIGKILL');
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it("workers advertise a name the gateway resolves, never the container's loopback", () => {
    const scaler = services['vm-scaler'];
    const simHost = /--sim-host\s+(\S+)/.exec(scaler.environment!.SCALING_WORKER_ARGS)?.[1];
    // the scaler's local workers bind and advertise this name: a compose service, and the container's own hostname
    expect(simHost).toBe('vm-scaler');
    expect(Object.keys(services)).toContain(simHost);
    expect(scaler.hostname).toBe(simHost);
    expect(scaler.environment!.SCALING_WORKER_ARGS).toMatch(/\{model\}/);

    const worker = services['worker-qwen'];
    const advertised = new URL(worker.command![worker.command!.indexOf('--advertise-url') + 1]);
    expect(Object.keys(services)).toContain(advertised.hostname);
    expect(worker.command![worker.command!.indexOf('--sim-host') + 1]).toBe('0.0.0.0');
  });

  it('auth signs users in against the development IdP, which leaves its metadata and the SP key on a shared volume', () => {
    const auth = services.auth;
    const idp = services['saml-idp'];
    expect(auth.depends_on!['saml-idp']).toEqual({ condition: 'service_healthy' });
    const shared = mountOf(auth, '/var/lib/dev-idp')!;
    expect(mountOf(idp, '/var/lib/dev-idp')?.source).toBe(shared.source);
    expect(compose.volumes).toHaveProperty(shared.source);
    for (const key of ['SAML_IDP_METADATA', 'SAML_SP_KEY_FILE', 'SAML_SP_CERT_FILE'])
      expect(auth.environment![key]).toMatch(/^\/var\/lib\/dev-idp\//);
    // the SP metadata the IdP fetches is auth's, and browsers reach auth through the gateway
    expect(idp.environment!.DEV_IDP_SP_METADATA_URL).toBe(`http://auth:${auth.environment!.AUTH_PORT}/auth/saml/metadata`);
    expect(auth.environment!.AUTH_PUBLIC_URL).toBe(`http://localhost:${services.gateway.environment!.GATEWAY_PORT}`);
    expect(services.gateway.environment!.GATEWAY_AUTH_URL).toBe(`http://auth:${auth.environment!.AUTH_PORT}`);

    // Debian's SimpleSAMLphp, configured by the writer the identity tests use
    const idpFile = read(idp.build!.dockerfile);
    expect(idpFile).toMatch(/apt-get install[^\n]*\bsimplesamlphp\b/);
    expect(idpFile).toMatch(/COPY scripts\/lib\/saml-idp\.js /);
    expect(read('e2e/support/saml-idp.ts')).toMatch(/from '..\/..\/scripts\/lib\/saml-idp'/);
    expect(read('deploy/docker/saml-idp/start.js')).toMatch(/samlIdp\.writeIdpConfig\(/);
  });

  it('Prometheus and Grafana run with the repository’s configuration and provisioning', () => {
    expect(mountOf(services.prometheus, '/etc/prometheus/prometheus.yml')?.source).toBe(
      path.join(root, 'deploy/prometheus/prometheus.yml'),
    );
    expect(mountOf(services.grafana, '/etc/grafana/provisioning')?.source).toBe(path.join(root, 'deploy/grafana/provisioning'));
    expect(mountOf(services.grafana, '/var/lib/grafana/dashboards')?.source).toBe(path.join(root, 'deploy/grafana/dashboards'));
  });

  it("every Prometheus target, and Grafana's data source, is a compose service on the port it listens on", () => {
    const listens = (name: string, port: string) => {
      const service = services[name];
      if (!service) return `${name}: no such service`;
      const env = service.environment ?? {};
      const declared = [
        ...Object.entries(env)
          .filter(([k]) => k.endsWith('_PORT'))
          .map(([, v]) => v),
        ...(service.command
          ?.join(' ')
          .match(/--sim-port\s+(\d+)/)
          ?.slice(1) ?? []),
      ];
      const own = { prometheus: '9090', grafana: '3000' }[name];
      return declared.includes(port) || own === port
        ? 'ok'
        : `${name} does not listen on ${port} (${declared.join(', ') || 'nothing declared'})`;
    };
    const prometheus = yamlToJson(read('deploy/prometheus/prometheus.yml'), composePython()) as {
      scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[];
    };
    const targets = prometheus.scrape_configs.flatMap((job) => (job.static_configs ?? []).flatMap((c) => c.targets));
    expect(targets.length).toBeGreaterThanOrEqual(SERVICE_NAMES.length);
    for (const target of targets) {
      const [host, port] = target.split(':');
      expect({ target, reachable: listens(host, port) }).toEqual({ target, reachable: 'ok' });
    }
    for (const name of SERVICE_NAMES) expect(targets.some((t) => t.startsWith(`${name}:`))).toBe(true);

    const datasources = yamlToJson(read('deploy/grafana/provisioning/datasources/prometheus.yml'), composePython()) as {
      datasources: { type: string; url: string }[];
    };
    const url = new URL(datasources.datasources.find((d) => d.type === 'prometheus')!.url);
    expect(listens(url.hostname, url.port)).toBe('ok');
  });

  it('the image: built in a stage with dev dependencies, run as a non-root user, one CMD per service', () => {
    const build = dockerfile.find((s) => s.name === 'build')!;
    expect(build).toBeDefined();
    const install = build.lines.find((l) => /^RUN npm ci\b/.test(l))!;
    expect(install).not.toMatch(/--omit|--production|--only/); // swc's native binding is an optional dependency
    expect(build.lines.some((l) => /^RUN node scripts\/build\.js\b/.test(l))).toBe(true);
    const runtime = dockerfile.find((s) => s.name === 'runtime')!;
    expect(runtime.lines.filter((l) => l.startsWith('COPY --from=build ')).length).toBeGreaterThan(0);
    expect(runtime.lines.some((l) => /^RUN npm (ci|install)\b/.test(l))).toBe(false); // production deps come pruned from build

    for (const [name, service] of Object.entries(services).filter(([, s]) => s.build?.dockerfile === 'deploy/docker/Dockerfile')) {
      const target = service.build!.target!;
      expect({ name, stage: dockerfile.some((s) => s.name === target) }).toEqual({ name, stage: true });
      const user = inherited(dockerfile, target, 'USER');
      expect({ name, user }).toEqual({ name, user: expect.stringMatching(/^(?!root\b|0\b)\S+/) });
      expect(inherited(dockerfile, target, 'HEALTHCHECK')).toMatch(/\/health|healthcheck\.js/);
    }
    for (const name of SERVICE_NAMES) {
      expect(services[name].build!.target).toBe(name);
      expect(JSON.parse(inherited(dockerfile, name, 'CMD')!)).toEqual(['node', `dist/services/${name}/src/main.js`]);
    }
    // the default target (no --target) is a service too
    expect(JSON.parse(inherited(dockerfile, dockerfile.at(-1)!.name, 'CMD')!)).toEqual(['node', 'dist/services/gateway/src/main.js']);
    // the IdP image does not run as root either
    expect(inherited(stages(read('deploy/docker/saml-idp/Dockerfile')), '#0', 'USER')).toBe('node');
  });

  it('.dockerignore keeps dependencies, builds, state and history out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', '.maas', 'artifacts', '.git']) expect(ignored).toContain(entry);
  });

  describe("the image's scripts", () => {
    let server: Server;
    let status = 200;
    let port: number;
    beforeAll(async () => {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/health' ? status : 404;
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    // asynchronous: the server answering it runs in this process
    const check = (env: Record<string, string>, args: string[] = []) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(root, 'deploy/docker/healthcheck.js'), ...args], {
          env: { ...process.env, ...env },
        });
        let stderr = '';
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('close', (status) => resolve({ status, stderr }));
      });

    it("the health check asks the service's /health on its port and fails on anything but 2xx", async () => {
      status = 200;
      expect((await check({ MAAS_SERVICE: 'key-registry', KEY_REGISTRY_PORT: String(port) })).status).toBe(0);
      expect((await check({}, [`http://127.0.0.1:${port}/health`])).status).toBe(0);
      status = 503;
      const sick = await check({ MAAS_SERVICE: 'key-registry', KEY_REGISTRY_PORT: String(port) });
      expect(sick.status).toBe(1);
      expect(sick.stderr).toMatch(/answered 503/);
      expect((await check({ MAAS_SERVICE: 'nope' })).stderr).toMatch(/set HEALTHCHECK_URL/);
    });

    it('the image’s `maas` runs the built CLI as it is', () => {
      // laid out as in the image: bin/maas.js beside dist/
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-image-'));
      try {
        fs.mkdirSync(path.join(dir, 'bin'));
        fs.copyFileSync(path.join(root, 'deploy/docker/maas-prebuilt.js'), path.join(dir, 'bin/maas.js'));
        fs.symlinkSync(path.join(root, 'dist'), path.join(dir, 'dist'));
        const ok = spawnSync(process.execPath, [path.join(dir, 'bin/maas.js'), '--help'], { encoding: 'utf8' });
        expect(ok.status).toBe(0);
        expect(ok.stdout).toMatch(/usage: maas <command>/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the development IdP, run as its container runs it, with the settings compose gives it and auth', () => {
    const STATE_IN_CONTAINER = '/var/lib/dev-idp';
    const password = randomBytes(12).toString('base64url');
    let state: string;
    let db: TestDatabase;
    let idp: StartedProcess;
    let auth: StartedService;
    let idpEnv: Record<string, string>;

    beforeAll(async () => {
      requireSystemPart('saml-idp');
      state = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-dev-idp-'));
      const [idpPort, authPort] = [await freePort(), await freePort()];
      const authUrl = `http://127.0.0.1:${authPort}`;
      // compose's settings; only what names a place (ports, hosts, the volume) is changed for this machine
      idpEnv = {
        ...services['saml-idp'].environment,
        DEV_IDP_STATE_DIR: state,
        DEV_IDP_PORT: String(idpPort),
        DEV_IDP_PUBLIC_URL: `http://127.0.0.1:${idpPort}`,
        DEV_IDP_SP_METADATA_URL: `${authUrl}/auth/saml/metadata`,
        DEV_IDP_PASSWORD: password,
      };
      idp = startNode('deploy/docker/saml-idp/start.js', idpEnv);
      await idp.waitFor((r) => r.msg === 'ready', 30_000, 'IdP ready line');
      db = await createTestDatabase('devidp');
      const authEnv = Object.fromEntries(
        Object.entries(services.auth.environment!).map(([k, v]) => [k, v.replace(STATE_IN_CONTAINER, state)]),
      );
      auth = await startService('auth', {
        ...authEnv,
        AUTH_PORT: String(authPort),
        AUTH_PUBLIC_URL: authUrl,
        HOST: '127.0.0.1',
        DATABASE_URL: db.url,
        // the tests' shared NATS, without authentication (compose's seed and CA are on its volume)
        NATS_URL: testNatsUrl(),
        NATS_NKEY: '',
        NATS_CA: '',
        MAAS_NAMESPACE: testNamespace(),
      });
    });

    afterAll(async () => {
      await Promise.all([auth?.stop(), idp?.stop()]);
      await db?.drop();
      if (state) fs.rmSync(state, { recursive: true, force: true });
    });

    it('is healthy once it has left auth its metadata and an owner-only SP key', async () => {
      const health = await new Promise<number | null>((resolve) =>
        spawn(process.execPath, [path.join(root, 'deploy/docker/saml-idp/start.js'), '--check'], {
          env: { ...process.env, ...idpEnv },
          stdio: 'ignore',
        }).on('close', resolve),
      );
      expect(health).toBe(0);
      expect(fs.readFileSync(path.join(state, 'idp-metadata.xml'), 'utf8')).toContain(
        `entityID="${idpEnv.DEV_IDP_PUBLIC_URL}/saml2/idp/metadata.php"`,
      );
      expect(fs.statSync(path.join(state, 'auth-sp/sp.pem')).mode & 0o077).toBe(0);
      expect(fs.statSync(path.join(state, 'secrets.json')).mode & 0o077).toBe(0);
    });

    it('signs its test account in to auth, and never prints the password', async () => {
      await idp.waitFor((r) => r.msg === 'trusting auth as a service provider', 20_000, 'auth trusted as an SP');
      const jar = new CookieJar();
      const login = await captureSamlResponse(jar, `${auth.url}/auth/saml/login?next=%2Fportal`, { username: 'admin', password });
      expect(login.acsUrl).toBe(`${auth.url}/auth/saml/acs`);
      const body = new URLSearchParams({ SAMLResponse: login.samlResponse, ...(login.relayState ? { RelayState: login.relayState } : {}) });
      const acs = await send(jar, login.acsUrl, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect({ status: acs.status, location: acs.headers.get('location') }).toEqual({ status: 303, location: '/portal' });
      const session = await send(jar, `${auth.url}/auth/session`);
      expect(session.status).toBe(200);
      expect(session.headers.get('x-maas-user-email')).toBe(services.auth.environment!.AUTH_ADMINS);
      expect(idp.lines.join('\n')).not.toContain(password);
    });
  });

  it('nest-cli.json declares every service as an application and every lib as a library', () => {
    const cli = JSON.parse(read('nest-cli.json'));
    expect(cli.monorepo).toBe(true);
    for (const name of SERVICE_NAMES) expect(cli.projects[name]).toMatchObject({ type: 'application', root: `services/${name}` });
    for (const lib of fs.readdirSync(path.join(root, 'libs')))
      expect(cli.projects[lib]).toMatchObject({ type: 'library', root: `libs/${lib}` });
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
