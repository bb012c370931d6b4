import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Clock } from '@maas/platform';
import type { CapacityListener, VmRecord, VmStartRequest } from '@maas/scaling';
import { nodeArgs, workerArgs } from '../../policy/worker-command';
import { NodeLedger, ScalerCapacityProvider } from './scaler-provider';
import { ProvidedWorkerCredentials, WorkerCredentials, workerEnvironment } from './worker-environment';

export interface LocalProviderOptions {
  /** Program and leading arguments of `maas worker`, e.g. [node, bin/maas.js, 'worker']. */
  readonly command: readonly string[];
  /** Runtime flags template ({model}, {vmType}, {vmId}). */
  readonly argsTemplate: string;
  /** Environment of the workers on top of the allow-listed part of the scaler's: NATS_URL, MAAS_NAMESPACE. */
  readonly env: Readonly<Record<string, string>>;
  readonly logDir: string;
  readonly bootTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly drainTimeoutMs: number;
  /** Distinguishes this scaler's nodes from an earlier run's: `local-<prefix>-001`. */
  readonly idPrefix: string;
  /** Each node's NATS credential, for its worker id (the node id); none when unset. */
  readonly credentials?: WorkerCredentials;
}

interface Process {
  readonly pid: number | undefined;
  /** Sends a signal; a process already gone is not an error. */
  readonly signal: (signal: NodeJS.Signals) => void;
  readonly logFile: string;
  bootTimer?: NodeJS.Timeout;
  killTimer?: NodeJS.Timeout;
  exited: Promise<void>;
}

/** What a node's `<id>.node.json` beside its log says, so that a later vm-scaler can adopt it. */
interface NodeFile {
  readonly pid: number;
  readonly vmType: string;
  readonly model: string;
  readonly requestedAt: number;
  readonly state: 'booting' | 'ready';
  readonly pool?: 'batch';
}

/** The process is alive and is the `maas worker` of that node (its command line names the vmId). */
function isNodeProcess(pid: number, vmId: string): boolean {
  try {
    process.kill(pid, 0);
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = args.indexOf('--vm-id');
    return i >= 0 && args[i + 1] === vmId;
  } catch {
    return false;
  }
}

/** The last non-empty line a worker logged, to say why it failed. */
function lastLine(file: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.trimEnd().split('\n');
    const line = lines[lines.length - 1] ?? '';
    try {
      const record = JSON.parse(line) as { msg?: string; error?: string };
      return [record.msg, record.error].filter(Boolean).join(': ') || line;
    } catch {
      return line.slice(0, 200);
    }
  } catch {
    return '';
  }
}

/**
 * Each node is a `maas worker` process on this host with its own vmId. Boot is process start until
 * its worker registers ready. Draining sends SIGTERM once: the worker stops taking work, waits for
 * what it holds, deregisters and exits, which ends the node. Stopping never signals a draining
 * worker again (a second SIGTERM would cut its drain short); only after the grace period, and only
 * once the loop saw it idle, is a lingering process killed.
 *
 * Each node also has `<id>.node.json` in the log directory. A vm-scaler that starts after another one
 * died (its workers outlive it) adopts the live ones found there, so they are counted, drained and
 * stopped like its own instead of serving on unmanaged while new ones start beside them.
 */
export class LocalCapacityProvider implements ScalerCapacityProvider {
  readonly kind = 'local' as const;
  readonly hostsWorkers = true;
  private readonly ledger: NodeLedger;
  private readonly processes = new Map<string, Process>();
  private issued = 0;
  private readonly credentials: WorkerCredentials;

  constructor(
    private readonly options: LocalProviderOptions,
    clock: Clock,
  ) {
    this.ledger = new NodeLedger('local', clock);
    this.credentials = options.credentials ?? new ProvidedWorkerCredentials();
  }

  async open(): Promise<void> {
    let files: string[];
    try {
      files = fs.readdirSync(this.options.logDir).filter((f) => f.endsWith(NODE_FILE));
    } catch {
      return;
    }
    for (const file of files.sort()) {
      const id = file.slice(0, -NODE_FILE.length);
      if (this.ledger.get(id)) continue;
      let node: NodeFile;
      try {
        node = JSON.parse(fs.readFileSync(path.join(this.options.logDir, file), 'utf8')) as NodeFile;
      } catch {
        continue;
      }
      if (!isNodeProcess(node.pid, id)) {
        fs.rmSync(path.join(this.options.logDir, file), { force: true });
        continue;
      }
      this.adopt(id, node);
    }
  }

  /** Takes over a live node another vm-scaler started: signals by pid, notices its exit by polling. */
  private adopt(id: string, node: NodeFile): void {
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(node.pid, sig);
      } catch {
        /* gone already */
      }
    };
    let poll: NodeJS.Timeout;
    const exited = new Promise<void>((resolve) => {
      poll = setInterval(() => {
        if (isNodeProcess(node.pid, id)) return;
        clearInterval(poll);
        this.exited(id, 'worker exited');
        resolve();
      }, ADOPTED_POLL_MS);
      poll.unref();
    });
    this.processes.set(id, { pid: node.pid, signal, logFile: path.join(this.options.logDir, `${id}.log`), exited });
    this.ledger.add(
      id,
      { vmType: node.vmType, model: node.model, ...(node.pool === 'batch' ? { pool: node.pool } : {}) },
      node.state,
      `adopted from an earlier vm-scaler (pid ${node.pid})`,
      node.requestedAt,
    );
  }

  private writeNodeFile(id: string, node: NodeFile): void {
    try {
      fs.writeFileSync(path.join(this.options.logDir, `${id}${NODE_FILE}`), JSON.stringify(node));
    } catch {
      /* adoption is a convenience; the node itself does not depend on it */
    }
  }

  async list(): Promise<readonly VmRecord[]> {
    return this.ledger.list();
  }

  async state(vmId: string): Promise<VmRecord | undefined> {
    return this.ledger.get(vmId);
  }

  subscribe(listener: CapacityListener): () => void {
    return this.ledger.subscribe(listener);
  }

  async start(request: VmStartRequest): Promise<VmRecord> {
    this.issued += 1;
    const id = `local-${this.options.idPrefix}-${String(this.issued).padStart(3, '0')}`;
    const logFile = path.join(this.options.logDir, `${id}.log`);
    fs.mkdirSync(this.options.logDir, { recursive: true });
    // Its own credential, for its own worker id only; revoked once the process is gone.
    const credential = this.credentials.issue(id, [id]);
    const fd = fs.openSync(logFile, 'a');
    const [program, ...lead] = this.options.command;
    const args = [
      ...lead,
      ...workerArgs(
        this.options.argsTemplate,
        { vmId: id, vmType: request.vmType, model: request.model },
        nodeArgs(id, this.options.drainTimeoutMs, request.pool),
      ),
    ];
    let child: ChildProcess;
    try {
      child = spawn(program, args, {
        env: workerEnvironment(process.env, { ...this.options.env, ...credential, MAAS_VM_ID: id }),
        stdio: ['ignore', fd, fd],
      });
    } catch (err) {
      this.credentials.revoke(id);
      throw err;
    } finally {
      fs.closeSync(fd);
    }
    const exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        this.exited(id, signal ? `worker killed by ${signal}` : `worker exited with code ${code}`);
        resolve();
      }),
    );
    const proc: Process = { pid: child.pid, signal: (sig) => child.kill(sig), logFile, exited };
    child.once('error', (err) => {
      this.credentials.revoke(id);
      this.failed(id, `cannot start ${program}: ${err.message}`);
    });
    proc.bootTimer = setTimeout(() => {
      if (this.ledger.get(id)?.state !== 'booting') return;
      this.ledger.transition(
        id,
        'failed',
        `no worker registered ready within ${Math.round(this.options.bootTimeoutMs / 1000)} s; log ${logFile}`,
      );
      child.kill('SIGKILL');
    }, this.options.bootTimeoutMs);
    proc.bootTimer.unref();
    this.processes.set(id, proc);
    const record = this.ledger.add(id, request, 'booting', request.reason ?? null);
    if (child.pid !== undefined)
      this.writeNodeFile(id, {
        pid: child.pid,
        vmType: request.vmType,
        model: request.model,
        requestedAt: record.requestedAt,
        state: 'booting',
        ...(request.pool ? { pool: request.pool } : {}),
      });
    return record;
  }

  workerReady(vmId: string): void {
    if (this.ledger.get(vmId)?.state !== 'booting') return;
    const proc = this.processes.get(vmId);
    clearTimeout(proc?.bootTimer);
    const node = this.ledger.transition(vmId, 'ready', `worker registered (pid ${proc?.pid})`);
    if (proc?.pid !== undefined)
      this.writeNodeFile(vmId, {
        pid: proc.pid,
        vmType: node.vmType,
        model: node.model,
        requestedAt: node.requestedAt,
        state: 'ready',
        ...(node.pool ? { pool: node.pool } : {}),
      });
  }

  async drain(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'draining') return node;
    if (node.state !== 'ready') throw new Error(`local provider: ${vmId} is ${node.state}; only a ready node can drain`);
    this.processes.get(vmId)?.signal('SIGTERM');
    return this.ledger.transition(vmId, 'draining', reason ?? null);
  }

  async stop(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'stopping') return node;
    const proc = this.processes.get(vmId);
    // a draining worker already has its SIGTERM and is finishing its requests
    if (node.state !== 'draining') proc?.signal('SIGTERM');
    if (proc) {
      proc.killTimer = setTimeout(() => proc.signal('SIGKILL'), this.options.stopGraceMs);
      proc.killTimer.unref();
    }
    return this.ledger.transition(vmId, 'stopping', reason ?? null);
  }

  /**
   * Drains every worker it started and waits for them within the grace period. Nothing is killed:
   * a worker still busy when the scaler is gone finishes its drain and exits by itself.
   */
  async close(): Promise<void> {
    const live = [...this.processes.entries()];
    for (const [id] of live) {
      const state = this.ledger.get(id)?.state;
      if (state === 'ready') await this.drain(id, 'vm-scaler shutting down');
      else if (state === 'booting') await this.stop(id, 'vm-scaler shutting down');
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.stopGraceMs)));
    await Promise.race([Promise.all(live.map(([, p]) => p.exited)), grace]);
    clearTimeout(timer);
    for (const [, p] of live) clearTimeout(p.killTimer);
  }

  private exited(id: string, how: string): void {
    const proc = this.processes.get(id);
    clearTimeout(proc?.bootTimer);
    clearTimeout(proc?.killTimer);
    this.processes.delete(id);
    fs.rmSync(path.join(this.options.logDir, `${id}${NODE_FILE}`), { force: true });
    this.credentials.revoke(id);
    const node = this.ledger.get(id);
    if (!node) return;
    if (node.state === 'draining' || node.state === 'stopping') this.ledger.transition(id, 'stopped', how);
    else this.failed(id, `${how} while ${node.state}: ${proc ? lastLine(proc.logFile) : ''}`);
  }

  private failed(id: string, reason: string): void {
    if (this.ledger.get(id)) this.ledger.transition(id, 'failed', reason);
  }
}

const NODE_FILE = '.node.json';
/** How often an adopted node's process (not our child: no exit event) is checked. */
const ADOPTED_POLL_MS = 1000;
