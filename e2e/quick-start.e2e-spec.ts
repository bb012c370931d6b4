import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireSystemPart } from '@maas/testing';
import { runtimeKeyFor } from '@maas/worker-agent';
import { renderText } from '../libs/ocr-engine/test/render';
import { speak } from '../libs/speech-engine/test/synthesize';

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

/**
 * `npm start` on a machine where nothing listens on the NATS and PostgreSQL ports it is given: it must
 * start nats-server and an embedded PostgreSQL itself, bring every service up, print the gateway URL,
 * have the vm-scaler start one worker per chat model, print a key that works, and stop everything
 * (workers included) on one SIGINT. Without a development IdP (MAAS_DEV_IDP=off, as on a machine
 * without SimpleSAMLphp) it prints a one-time sign-in link to the portal, which works once.
 */
describe('npm start options', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [path.join(root, 'scripts/start.js'), ...args], { cwd: root, encoding: 'utf8' });

  it('answers --help with its usage and exit 0, and an unknown flag with one line and exit 2', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npm start/);
    expect(help.stdout).toContain('MAAS_DEV_IDP_PORT');
    const bad = run('--jsn');
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toEqual(['npm start: unknown option "--jsn" (npm start -- --help lists them)']);
  });
});

describe('npm start with no NATS and no PostgreSQL running', () => {
  beforeAll(() => requireSystemPart('speech'));

  it('starts its own, brings all services to healthy, prints the gateway URL, and stops cleanly', async () => {
    const ports = await Promise.all(Array.from({ length: 11 }, freePort));
    const [natsPort, pgPort, gatewayPort, ocrPort, speechPort, ...servicePorts] = ports;
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-start-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NATS_URL: `nats://127.0.0.1:${natsPort}`,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/maas`,
      MAAS_STATE_DIR: state,
      MAAS_NAMESPACE: 'maas-quickstart',
      GATEWAY_PORT: String(gatewayPort),
      AUTH_PORT: String(servicePorts[0]),
      KEY_REGISTRY_PORT: String(servicePorts[1]),
      ROUTER_PORT: String(servicePorts[2]),
      METRICS_COLLECTOR_PORT: String(servicePorts[3]),
      VM_SCALER_PORT: String(servicePorts[4]),
      FORECASTER_PORT: String(servicePorts[5]),
      MAAS_OCR_PORT: String(ocrPort),
      MAAS_SPEECH_PORT: String(speechPort),
      MAAS_DEV_IDP: 'off',
      NO_COLOR: '1',
      // the chat runtimes take 4 s to load, as a real one takes its time: the first chat surely comes before they are ready
      SCALING_WORKER_ARGS: '--sim-profile {vmType} --sim-model {model} --sim-startup-delay 4s',
    };
    delete env.SAML_IDP_METADATA;
    const started = Date.now();
    const workers: string[] = [];
    const child = spawn(process.execPath, [path.join(root, 'scripts/start.js')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 90_000;
      while (!output.includes(`Gateway: http://127.0.0.1:${gatewayPort}`) && Date.now() < deadline && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(output).toContain(`Gateway: http://127.0.0.1:${gatewayPort}`);
      expect(Date.now() - started).toBeLessThan(60_000);
      expect(output).toContain(`starting nats-server -js on 127.0.0.1:${natsPort}`);
      expect(output).toContain(`starting embedded PostgreSQL on 127.0.0.1:${pgPort}`);
      for (const port of [gatewayPort, ...servicePorts]) {
        const res = await fetch(`http://127.0.0.1:${port}/health`);
        expect(res.status).toBe(200);
      }
      // As soon as the first key exists, both chat models are listed (the vm-scaler's catalogue), and a
      // chat sent before their workers are ready is held until one is, then answered, not refused.
      const keyFile = path.join(state, 'quickstart-key');
      while (!fs.existsSync(keyFile) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const early = fs.readFileSync(keyFile, 'utf8').trim();
      const chatModels = ['Qwen/Qwen2.5-3B-Instruct', 'openai/gpt-oss-20b'];
      const listed = (await (
        await fetch(`http://127.0.0.1:${gatewayPort}/v1/models`, { headers: { authorization: `Bearer ${early}` } })
      ).json()) as {
        data: { id: string; metadata: { state: string } }[];
      };
      const states = Object.fromEntries(chatModels.map((m) => [m, listed.data.find((d) => d.id === m)?.metadata.state]));
      expect(Object.values(states).every((st) => st === 'starting' || st === 'ready')).toBe(true);
      const notReady = chatModels.filter((m) => states[m] === 'starting');
      expect(notReady.length).toBeGreaterThan(0);
      const heldAnswers = await Promise.all(
        notReady.map(async (model) => {
          const res = await fetch(`http://127.0.0.1:${gatewayPort}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${early}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 4 }),
          });
          return { model, status: res.status, body: (await res.json()) as { error?: unknown } };
        }),
      );
      expect(heldAnswers.map((a) => ({ model: a.model, status: a.status, error: a.body.error }))).toEqual(
        notReady.map((model) => ({ model, status: 200, error: undefined })),
      );
      // the vm-scaler's workers (minReplicas 1 per chat model) register, and the printed key serves them
      while (!/^API key \(admin@localhost/m.test(output) && Date.now() < deadline && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 200));
      expect(output).toMatch(/^Models: .*Qwen\/Qwen2\.5-3B-Instruct/m);
      expect(output).toMatch(/^Models: .*openai\/gpt-oss-20b/m);
      const key = /^API key \(admin@localhost[^)]*\): (sk-\S+)$/m.exec(output)![1];
      for (const model of ['Qwen/Qwen2.5-3B-Instruct', 'openai/gpt-oss-20b']) {
        const res = await fetch(`http://127.0.0.1:${gatewayPort}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 4 }),
        });
        expect(res.status).toBe(200);
      }
      // The chat workers' runtimes demand their key, derived from the secret made for this installation (owner-only,
      // in no log): a direct call without it is refused, while the gateway, which holds the secret, was answered above.
      const secretFile = path.join(state, 'worker-key-secret');
      expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);
      const secret = fs.readFileSync(secretFile, 'utf8').trim();
      const workerLogs = fs
        .readdirSync(path.join(state, 'workers'))
        .filter((f) => f.endsWith('.log'))
        .map((f) => fs.readFileSync(path.join(state, 'workers', f), 'utf8'));
      const runtimes = new Map(
        workerLogs
          .flatMap((log) => log.split('\n').filter((l) => l.includes('"msg":"worker registered"')))
          .map((l) => JSON.parse(l) as { workerId: string; url: string })
          .map((r) => [r.workerId, r.url]),
      );
      expect(runtimes.size).toBeGreaterThanOrEqual(2);
      for (const [workerId, url] of runtimes) {
        const direct = (authorization?: string) =>
          fetch(`${url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
            body: JSON.stringify({ messages: [{ role: 'user', content: 'Hello!' }], max_tokens: 4 }),
          });
        const refused = await direct();
        expect({ workerId, status: refused.status }).toEqual({ workerId, status: 401 });
        expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
        expect((await direct(`Bearer ${key}`)).status).toBe(401);
        expect((await direct(`Bearer ${runtimeKeyFor(secret, workerId)}`)).status).toBe(200);
      }
      for (const text of [output, ...workerLogs]) expect(text).not.toContain(secret);
      // pocketsphinx is installed (scripts/install-system-packages.sh): the speech model is served too
      expect(output).toMatch(/^Models: .*pocketsphinx\/en-us/m);
      const form = new FormData();
      form.set('model', 'pocketsphinx/en-us');
      form.set('file', new Blob([fs.readFileSync(speak(state, 'hello', 'hello world'))], { type: 'audio/wav' }), 'hello.wav');
      const heard = await fetch(`http://127.0.0.1:${gatewayPort}/v1/audio/transcriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}` },
        body: form,
      });
      expect(heard.status).toBe(200);
      expect(((await heard.json()) as { text: string }).text.toLowerCase()).toContain('hello');
      // The speech and (with Tesseract) OCR runtimes demand the key derived for the worker attached to each, which that
      // worker sends to list their models: a direct call without it, or with a client's key, is refused.
      const ocrRuns = !output.includes('tesseract is not installed');
      const mediaRuntimes: [string, number][] = [
        ['quickstart-speech', speechPort],
        ...(ocrRuns ? [['quickstart-ocr', ocrPort] as [string, number]] : []),
      ];
      for (const [workerId, port] of mediaRuntimes) {
        const models = (authorization?: string) =>
          fetch(`http://127.0.0.1:${port}/v1/models`, { headers: authorization ? { authorization } : {} });
        const refused = await models();
        expect({ workerId, status: refused.status }).toEqual({ workerId, status: 401 });
        expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
        expect((await models(`Bearer ${key}`)).status).toBe(401);
        expect((await models(`Bearer ${runtimeKeyFor(secret, workerId)}`)).status).toBe(200);
        expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
        expect(output).not.toContain(runtimeKeyFor(secret, workerId));
      }
      if (ocrRuns) {
        // the gateway, which derives the OCR runtime's key, is answered
        const ocrModel = 'tesseract/eng+Devanagari';
        const listed = async () =>
          (
            (await (await fetch(`http://127.0.0.1:${gatewayPort}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
              data: { id: string }[];
            }
          ).data.some((m) => m.id === ocrModel);
        const listedBy = Date.now() + 60_000;
        while (!(await listed()) && Date.now() < listedBy) await new Promise((r) => setTimeout(r, 250));
        const read = await fetch(`http://127.0.0.1:${gatewayPort}/v1/ocr`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: ocrModel, image: renderText(state, 'hello', 'Hello world', 'Noto Sans').toString('base64') }),
        });
        expect(read.status).toBe(200);
        expect(((await read.json()) as { text: string }).text.toLowerCase()).toContain('hello');
      }

      // The portal through the gateway, and the one-time link into it: once.
      const portal = await fetch(`http://127.0.0.1:${gatewayPort}/portal`, { redirect: 'manual' });
      expect({ status: portal.status, location: portal.headers.get('location') }).toEqual({
        status: 303,
        location: '/auth/saml/login?next=%2Fportal',
      });
      const link = /^Portal: .*\n\s+One-time sign-in link for admin@localhost[^\n]*\n\s+(http\S+)$/m.exec(output)![1];
      expect(link).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${gatewayPort}/auth/one-time/[A-Za-z0-9_-]{43}$`));
      expect(output.split(link)).toHaveLength(2);
      expect(await (await fetch(link)).text()).toContain('name="token"');
      const redeem = () =>
        fetch(`http://127.0.0.1:${gatewayPort}/auth/one-time`, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token: link.split('/').pop()! }),
        });
      const signedIn = await redeem();
      expect(signedIn.status).toBe(303);
      const session = signedIn.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .find((c) => c.startsWith('maas_session='))!;
      const home = await fetch(`http://127.0.0.1:${gatewayPort}/portal`, { headers: { cookie: session } });
      expect(home.status).toBe(200);
      expect(await home.text()).toContain('admin@localhost');
      expect((await redeem()).status).toBe(410);

      workers.push(...new Set([...output.matchAll(/vmId=(local-[0-9a-z]+-\d{3}) .*to=ready/g)].map((m) => m[1])));
      expect(workers).toHaveLength(2);
    } finally {
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref())]);
      if (code === 'timeout') child.kill('SIGKILL');
      if (code !== 0) process.stderr.write(`npm start output:\n${output}\n`);
      expect(code).toBe(0);
      expect(output).toContain('stopped.');
      // the workers drained and exited with the platform
      const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
      for (const vmId of workers) expect(ps).not.toContain(`--vm-id ${vmId}`);
      fs.rmSync(state, { recursive: true, force: true });
    }
  });
});
