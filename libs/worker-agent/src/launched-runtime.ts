import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Logger } from '@maas/logging';
import type { RuntimeClient } from './runtime-client';
import type { RuntimeCommand } from './runtime-command';
import type { WorkerAgent } from './worker-agent';

export interface RuntimeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started runtime process. */
export interface RuntimeProcess {
  readonly pid: number | undefined;
  signal(signal: NodeJS.Signals): void;
  readonly exited: Promise<RuntimeExit>;
}

export type SpawnRuntime = (command: RuntimeCommand) => RuntimeProcess;

/** util-linux's setpriv, when installed: it makes the kernel kill the runtime if the worker dies (even by SIGKILL). */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

/**
 * What a runtime must not inherit from its worker: the installation's runtime-key secret (from which every
 * worker's runtime key derives) and the worker's NATS credentials. A runtime is a third-party server that needs
 * neither; it gets its own key in `RuntimeCommand.env`.
 */
const WITHHELD = new Set([
  'MAAS_WORKER_KEY_SECRET',
  'NATS_CREDS',
  'NATS_NKEY',
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_KEY',
  'NATS_CERT',
  'NATS_URL',
  'DATABASE_URL',
  'KEY_HASH_SECRET',
]);

/** The runtime's environment: the worker's, less what is withheld, plus the command's own. */
export function runtimeEnvironment(parent: NodeJS.ProcessEnv, own: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) if (value !== undefined && !WITHHELD.has(name)) env[name] = value;
  return { ...env, ...own };
}

/**
 * The runtime as a child process sharing the worker's output (so its log is the worker's), in its own
 * process group: a Ctrl-C in a terminal or a signal to the worker's group reaches only the worker,
 * which drains before it stops the runtime. If the worker exits anyway, the runtime goes with it:
 * at its exit, and through the parent-death signal when it is killed outright (OOM killer, SIGKILL).
 */
export const spawnRuntime: SpawnRuntime = (command) => {
  const [program, args] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command.program, ...command.args]]
    : [command.program, [...command.args]];
  const child = spawn(program, args, {
    env: runtimeEnvironment(process.env, command.env),
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  const exited = new Promise<RuntimeExit>((resolve) => {
    child.once('exit', (code, signal) => {
      process.off('exit', orphaned);
      resolve({ code, signal });
    });
    child.once('error', () => resolve({ code: 127, signal: null }));
  });
  return { pid: child.pid, signal: (s) => void child.kill(s), exited };
};

/** A port nobody listens on right now, for a runtime that must be told its port. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface LaunchedRuntimeOptions {
  readonly command: RuntimeCommand;
  /** The runtime's API (with its key), for health. */
  readonly runtime: RuntimeClient;
  /** A fresh agent for each run of the runtime: it registers once the runtime is healthy. */
  readonly agent: () => WorkerAgent;
  readonly logger: Logger;
  /** Longest wait for a started runtime to answer healthy (model loading included) before it is restarted. */
  readonly startTimeoutMs: number;
  /** Restart delay after a crash: doubles from `initialMs` up to `maxMs`. */
  readonly restartBackoff: { readonly initialMs: number; readonly maxMs: number };
  /** A runtime that stayed up this long starts the backoff over at its next crash. */
  readonly stableAfterMs?: number;
  /** After SIGTERM, how long the runtime may take to exit before SIGKILL. */
  readonly stopTimeoutMs: number;
  readonly spawn?: SpawnRuntime;
  /** Called each time the worker registered (after a start or a restart). */
  readonly onRegistered?: (agent: WorkerAgent) => void;
  readonly healthPollMs?: number;
}

type Started = 'ready' | 'exited' | 'timeout' | 'stopped';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs a runtime as a child and a worker agent for it: waits for its health, registers, and when the
 * runtime dies deregisters at once and starts it again after a backoff. On `stop` the agent drains
 * (new work stops, running requests finish), then the runtime gets SIGTERM (SIGKILL if it lingers).
 */
export class LaunchedRuntime {
  private stopReason?: string;
  private wakeStop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.wakeStop = resolve));
  private child?: RuntimeProcess;
  /** Runtime starts after the first. */
  restarts = 0;

  constructor(private readonly o: LaunchedRuntimeOptions) {}

  /** Asks the run to end: drain, then stop the runtime. Repeated calls change nothing. */
  stop(reason: string): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.wakeStop();
  }

  /** Until stopped: resolves once the runtime has been drained and has exited. */
  async run(): Promise<void> {
    let crashes = 0;
    let agent: WorkerAgent | undefined;
    const spawnIt = this.o.spawn ?? spawnRuntime;
    while (this.stopReason === undefined) {
      const child = spawnIt(this.o.command);
      this.child = child;
      const startedAt = Date.now();
      this.o.logger.info('runtime started', { program: this.o.command.program, pid: child.pid, restarts: this.restarts });
      const started = await this.started(child);
      if (started === 'stopped') break;
      if (started === 'ready') {
        agent = this.o.agent();
        await agent.start();
        this.o.onRegistered?.(agent);
        const ended = await Promise.race([child.exited, this.stopped.then(() => undefined)]);
        if (ended === undefined) break;
        this.o.logger.error('runtime exited; deregistering until it is back', {
          code: ended.code,
          signal: ended.signal,
          upForMs: Date.now() - startedAt,
        });
        await agent.stop('replaced');
        agent = undefined;
        if (Date.now() - startedAt >= (this.o.stableAfterMs ?? 60_000)) crashes = 0;
      } else if (started === 'timeout') {
        this.o.logger.error('runtime not healthy within its start timeout; restarting it', { timeoutMs: this.o.startTimeoutMs });
        await this.terminate(child, 0);
      } else {
        const ended = await child.exited;
        this.o.logger.error('runtime exited before it was healthy', { code: ended.code, signal: ended.signal });
      }
      crashes += 1;
      const delay = Math.min(this.o.restartBackoff.maxMs, this.o.restartBackoff.initialMs * 2 ** (crashes - 1));
      this.o.logger.warn('restarting the runtime', { inMs: delay, crashes });
      await Promise.race([sleep(delay), this.stopped]);
      if (this.stopReason === undefined) this.restarts += 1;
    }
    if (agent)
      await agent.drain(this.stopReason ?? 'shutdown').catch((err: Error) => this.o.logger.error('drain failed', { error: err.message }));
    if (this.child) await this.terminate(this.child, this.o.stopTimeoutMs);
  }

  /** Waits until the runtime answers healthy, exits, overruns its start timeout, or the run is stopped. */
  private async started(child: RuntimeProcess): Promise<Started> {
    let exited = false;
    void child.exited.then(() => (exited = true));
    const deadline = Date.now() + this.o.startTimeoutMs;
    for (;;) {
      if (this.stopReason !== undefined) return 'stopped';
      if (exited) return 'exited';
      if (Date.now() > deadline) return 'timeout';
      if ((await this.o.runtime.health()) === 'ready' && !exited) return 'ready';
      await Promise.race([sleep(this.o.healthPollMs ?? 250), child.exited, this.stopped]);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  private async terminate(child: RuntimeProcess, graceMs: number): Promise<void> {
    child.signal(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    if ((await Promise.race([child.exited, late])) === 'late') {
      this.o.logger.warn('runtime still running after SIGTERM; killing it', { pid: child.pid, graceMs });
      child.signal('SIGKILL');
      await child.exited;
    }
    clearTimeout(timer);
  }
}
