import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsCredentialStore } from '@maas/nats';

/** A private `nats-server -js` on a port of its own, with its own JetStream store: for tests that stop and restart NATS. */
export interface PrivateNatsServer {
  readonly port: number;
  readonly url: string;
  readonly storeDir: string;
  /** Kills the server (SIGKILL by default: a crash, nothing flushed or said goodbye to). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store directory. */
  restart(): Promise<void>;
  /** Kills it and removes its store. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function launch(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`nats-server on port ${port} not ready within 10 s:\n${log}`)), 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code} before it was ready:\n${log}`));
    });
  });
}

export async function startPrivateNatsServer(): Promise<PrivateNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'maas-nats-'));
  const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir];
  let child: ChildProcess | undefined = await launch(port, args);
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    storeDir,
    kill,
    async restart() {
      await kill();
      child = await launch(port, args);
    },
    async stop() {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** A private NATS as `npm start` runs it: TLS required, no anonymous user, one nkey per identity with its allow-lists. */
export interface SecureNatsServer {
  readonly url: string;
  readonly store: NatsCredentialStore;
  /** What a process needs to connect as `identity` (`gateway`, `worker-gpu-node-7`, …) in `namespace`. */
  envFor(identity: string): Record<string, string>;
  stop(): Promise<void>;
}

export async function startSecureNatsServer(namespace: string): Promise<SecureNatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'maas-nats-secure-'));
  const store = new NatsCredentialStore(join(dir, 'nats'));
  store.initialise({ host: '127.0.0.1', port, storeDir: join(dir, 'jetstream'), namespace });
  const child = await launch(port, ['-c', store.configFile]);
  const url = `nats://127.0.0.1:${port}`;
  return {
    url,
    store,
    // MAAS_NATS_INSECURE cleared: these processes must sign in, not fall back to the shared test NATS' way.
    envFor: (identity) => ({ ...store.envFor(identity), NATS_URL: url, MAAS_NAMESPACE: namespace, MAAS_NATS_INSECURE: '0' }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
