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

/**
 * `npm start` on a machine where nothing listens on the NATS and PostgreSQL ports it is given: it must
 * start nats-server and an embedded PostgreSQL itself, bring every service up, print the gateway URL,
 * have the vm-scaler start one worker per chat model, print a key that works, and stop everything
 * (workers included) on one SIGINT.
 */
describe('npm start with no NATS and no PostgreSQL running', () => {
  it('starts its own, brings all services to healthy, prints the gateway URL, and stops cleanly', async () => {
    const ports = await Promise.all(Array.from({ length: 10 }, freePort));
    const [natsPort, pgPort, gatewayPort, ocrPort, ...servicePorts] = ports;
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'maas-start-'));
    const env = {
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
      NO_COLOR: '1',
    };
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
      // the vm-scaler's workers (minReplicas 1 per chat model) register, and the printed key serves them
      while (!/^API key \(admin@localhost/m.test(output) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 200));
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
      workers.push(...new Set([...output.matchAll(/vmId=(local-[0-9a-z]+-\d{3}) .*to=ready/g)].map((m) => m[1])));
      expect(workers).toHaveLength(2);
    } finally {
      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
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
