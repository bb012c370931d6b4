import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '@maas/logging';
import type { Clock } from '@maas/platform';
import type { CapacityListener, VmRecord, VmStartRequest } from '@maas/scaling';
import { jobComment, jobNodeState, parseJobComment, SlurmJob } from '../../policy/slurm-queue';
import { poolArgs, shellQuote, workerArgs } from '../../policy/worker-command';
import { SlurmCommands } from './slurm-cli';
import { NodeLedger, ScalerCapacityProvider } from './scaler-provider';
import { ProvidedWorkerCredentials, WorkerCredentials, workerEnvironment } from './worker-environment';

export interface SlurmProviderOptions {
  /** Batch script each job runs: `maas worker "$@"` with MAAS_WORKER_ARGS, as deploy/slurm/maas-worker.sbatch. */
  readonly script: string;
  /** Checkout the job runs `bin/maas.js` from (MAAS_HOME). */
  readonly home: string;
  readonly sbatchArgs: readonly string[];
  /** Runtime flags template ({model}, {vmType}); the script adds --vm-id and --worker-id. */
  readonly argsTemplate: string;
  /** NATS_URL and MAAS_NAMESPACE of the workers. */
  readonly env: Readonly<Record<string, string>>;
  readonly namespace: string;
  readonly logDir: string;
  readonly pollMs: number;
  readonly bootTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly drainTimeoutMs: number;
  /** Each job's NATS credential, for its worker id (`slurm-<job id>`); none when unset. */
  readonly credentials?: WorkerCredentials;
}

const JOB_NAME = 'maas-worker';
const jobOf = (vmId: string) => vmId.replace(/^slurm-/, '');

/**
 * Each node is a Slurm batch job running `maas worker` (vmId `slurm-<job id>`, as the batch script
 * names it). Queued is `requested`, running is `booting` until the worker registers ready. Draining
 * is `scancel --batch --signal=TERM`: the worker drains and exits, which ends the job. squeue is
 * polled for the rest; jobs outlive the scaler and are adopted again by their comment tag.
 */
export class SlurmCapacityProvider implements ScalerCapacityProvider {
  readonly kind = 'slurm' as const;
  readonly hostsWorkers = true;
  private readonly ledger: NodeLedger;
  private readonly killAt = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  private readonly credentials: WorkerCredentials;

  constructor(
    private readonly slurm: SlurmCommands,
    private readonly options: SlurmProviderOptions,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.ledger = new NodeLedger('slurm', clock);
    this.credentials = options.credentials ?? new ProvidedWorkerCredentials();
  }

  async open(): Promise<void> {
    if (!fs.existsSync(this.options.script))
      throw new Error(`slurm provider: batch script ${this.options.script} does not exist (SCALING_SLURM_SCRIPT)`);
    fs.mkdirSync(this.options.logDir, { recursive: true });
    for (const job of await this.slurm.squeue()) {
      const tag = parseJobComment(job.comment);
      const state = jobNodeState(job.state);
      if (!tag || tag.namespace !== this.options.namespace || !state) continue;
      // its worker re-registers within its re-announcement interval and makes it ready again
      this.ledger.add(
        `slurm-${job.jobId}`,
        { vmType: tag.vmType, model: tag.model, ...(tag.pool === 'batch' ? { pool: tag.pool } : {}) },
        state,
        `adopted job ${job.jobId} (${job.state})`,
        job.submitTime || undefined,
      );
    }
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
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
    const args = workerArgs(this.options.argsTemplate, { vmId: '', vmType: request.vmType, model: request.model }, [
      '--drain-timeout',
      `${Math.max(1, Math.round(this.options.drainTimeoutMs / 1000))}s`,
      ...poolArgs(request.pool),
    ]);
    // The job's worker id is its job id, known once queued: the credential is issued under a name of its
    // own first and granted that id right after sbatch (a worker that signed in sooner gets it on the reload).
    const pending = `slurm-${randomBytes(6).toString('hex')}`;
    const credential = this.credentials.issue(pending, [pending]);
    const env = workerEnvironment(process.env, {
      ...this.options.env,
      ...credential,
      MAAS_HOME: this.options.home,
      MAAS_WORKER_ARGS: args.map(shellQuote).join(' '),
    });
    let jobId: string;
    try {
      jobId = await this.slurm.sbatch(
        [
          `--job-name=${JOB_NAME}`,
          `--comment=${jobComment({
            namespace: this.options.namespace,
            vmType: request.vmType,
            model: request.model,
            ...(request.pool ? { pool: request.pool } : {}),
          })}`,
          `--output=${path.join(this.options.logDir, 'maas-worker-%j.log')}`,
          // By name, so the values (which may hold commas) stay in sbatch's environment: only these reach the job.
          `--export=${Object.keys(env).sort().join(',')}`,
          ...this.options.sbatchArgs,
          this.options.script,
        ],
        env,
      );
    } catch (err) {
      this.credentials.revoke(pending);
      throw err;
    }
    try {
      this.credentials.grant(pending, [`slurm-${jobId}`]);
    } catch (err) {
      // a job whose worker could never announce itself is not left queued
      await this.slurm.scancel([jobId]).catch(() => undefined);
      this.credentials.revoke(pending);
      throw err;
    }
    return this.ledger.add(`slurm-${jobId}`, request, 'requested', request.reason ?? `job ${jobId} queued`);
  }

  workerReady(vmId: string): void {
    const state = this.ledger.get(vmId)?.state;
    if (state === 'booting' || state === 'requested') this.ledger.transition(vmId, 'ready', `worker registered in job ${jobOf(vmId)}`);
  }

  async drain(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'draining') return node;
    if (node.state !== 'ready') throw new Error(`slurm provider: ${vmId} is ${node.state}; only a ready node can drain`);
    await this.slurm.scancel(['--batch', '--signal=TERM', jobOf(vmId)]);
    return this.ledger.transition(vmId, 'draining', reason ?? null);
  }

  async stop(vmId: string, reason?: string): Promise<VmRecord> {
    const node = this.ledger.require(vmId);
    if (node.state === 'stopping') return node;
    if (node.state === 'requested') await this.slurm.scancel([jobOf(vmId)]);
    // a draining worker already has its SIGTERM; a booting or ready one gets it now and drains what it has
    else if (node.state !== 'draining') await this.slurm.scancel(['--batch', '--signal=TERM', jobOf(vmId)]);
    this.killAt.set(vmId, this.clock.now() + this.options.stopGraceMs);
    return this.ledger.transition(vmId, 'stopping', reason ?? null);
  }

  /** Follows the queue: running jobs are booting, vanished ones have stopped (or failed, if nobody asked). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const jobs = new Map<string, SlurmJob>((await this.slurm.squeue()).map((j) => [j.jobId, j]));
      const nowMs = this.clock.now();
      for (const node of this.ledger.list()) {
        const job = jobs.get(jobOf(node.id));
        const state = job ? jobNodeState(job.state) : undefined;
        if (!job || !state) {
          this.killAt.delete(node.id);
          this.credentials.revoke(node.id);
          if (node.state === 'draining' || node.state === 'stopping')
            this.ledger.transition(node.id, 'stopped', `job ${jobOf(node.id)} ended`);
          else
            this.ledger.transition(
              node.id,
              'failed',
              `job ${jobOf(node.id)} left the queue while ${node.state}; log ${path.join(this.options.logDir, `maas-worker-${jobOf(node.id)}.log`)}`,
            );
          continue;
        }
        if (node.state === 'requested' && state === 'booting') this.ledger.transition(node.id, 'booting', `job ${job.jobId} running`);
        const bootingFor = nowMs - node.requestedAt * 1000;
        if ((node.state === 'requested' || node.state === 'booting') && bootingFor > this.options.bootTimeoutMs) {
          await this.slurm.scancel([job.jobId]);
          this.credentials.revoke(node.id);
          this.ledger.transition(
            node.id,
            'failed',
            `no worker registered ready within ${Math.round(this.options.bootTimeoutMs / 1000)} s (job ${job.state}${job.reason && job.reason !== 'None' ? `, ${job.reason}` : ''})`,
          );
          continue;
        }
        const killAt = this.killAt.get(node.id);
        if (killAt !== undefined && nowMs > killAt) {
          this.killAt.delete(node.id);
          this.logger.warn('slurm job still there after the stop grace period; cancelling it', { vmId: node.id, jobId: job.jobId });
          await this.slurm.scancel([job.jobId]);
        }
      }
    } catch (err) {
      this.logger.warn('squeue failed', { error: (err as Error).message });
    } finally {
      this.polling = false;
    }
  }
}
