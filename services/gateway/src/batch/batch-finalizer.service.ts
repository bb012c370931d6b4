import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { outputLine, succeeded } from './batch-input';
import { BatchInputsService } from './batch-inputs.service';
import { BatchQueueRepository } from './batch-queue.repository';
import { BatchRepository, BatchRow, BatchStatus } from './batch.repository';
import { FILE_STORE, FileStore } from './file-store.repository';

const BATCH_EXPIRED = { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' };

/** Whether the batch's completion window has closed at `now` (epoch ms). */
export const pastExpiry = (b: BatchRow, now: number) => new Date(b.expiresAt).getTime() <= now;

/**
 * Ends batches: every GATEWAY_BATCH_SWEEP it finds the unfinished ones that completed, were cancelled
 * (once this gateway runs none of their requests), expired, or were left half created by a restart,
 * and writes their output and error files and final status.
 */
@Injectable()
export class BatchFinalizerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private running = false;
  private sweepTimer?: NodeJS.Timeout;
  private readonly inFlight = new Map<string, number>();
  private readonly finalizing = new Set<string>();
  private readonly listeners: ((batchId: string) => void)[] = [];

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    @Inject(FILE_STORE) private readonly store: FileStore,
    private readonly inputs: BatchInputsService,
    private readonly repository: BatchRepository,
    private readonly queue: BatchQueueRepository,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.GATEWAY_BATCH_EXECUTOR) return;
    this.running = true;
    const sweep = () => {
      this.sweepTimer = setTimeout(
        () =>
          void this.sweep()
            .catch((err) => this.logger.warn('batch sweep failed', { error: (err as Error).message }))
            .finally(() => this.running && sweep()),
        this.config.GATEWAY_BATCH_SWEEP,
      );
    };
    sweep();
  }

  beforeApplicationShutdown(): void {
    this.running = false;
    clearTimeout(this.sweepTimer);
  }

  /** A request of the batch runs on this gateway until `ended`: a cancelled batch is finalised after its last one. */
  started(batchId: string): void {
    this.inFlight.set(batchId, (this.inFlight.get(batchId) ?? 0) + 1);
  }

  ended(batchId: string): void {
    const n = (this.inFlight.get(batchId) ?? 1) - 1;
    if (n > 0) this.inFlight.set(batchId, n);
    else this.inFlight.delete(batchId);
  }

  /** Called with a batch's id when it expires or reaches its final status (cached states go stale). */
  onChanged(listener: (batchId: string) => void): void {
    this.listeners.push(listener);
  }

  /** Completion, cancellation, expiry and restarts left half done, for every unfinished batch. */
  async sweep(): Promise<void> {
    const batches = await this.repository.unfinished();
    if (batches.length === 0) return;
    const counts = await this.repository.counts(batches.map((b) => b.id));
    const now = this.clock.now();
    for (const b of batches) {
      const c = counts.get(b.id) ?? { completed: 0, failed: 0 };
      if (b.status === 'validating' && now - new Date(b.createdAt).getTime() > 60_000) {
        // Created but never fully queued (the gateway stopped mid-create): queue again, de-duplicated.
        const input = await this.inputs.get(b);
        await this.queue.enqueue([...input.lines.values()].map((l) => ({ batchId: b.id, line: l.line, customId: l.customId })));
        await this.repository.transition(b.id, ['validating'], 'in_progress', new Date(now));
      } else if (b.status === 'in_progress' && pastExpiry(b, now)) {
        // Before the completion check: a crash after the batch_expired rows were written must still end as expired.
        await this.finalize(b, 'expired');
      } else if (b.status === 'in_progress' && c.completed + c.failed >= b.total) {
        await this.finalize(b, 'completed');
      } else if (b.status === 'finalizing') {
        await this.finalize(b, 'completed');
      } else if (b.status === 'cancelling' && !this.inFlight.has(b.id)) {
        await this.finalize(b, 'cancelled');
      }
    }
  }

  /** Writes the output and error files (deterministic ids, so a repeat after a crash is harmless), then the final status. */
  private async finalize(b: BatchRow, target: Extract<BatchStatus, 'completed' | 'cancelled' | 'expired'>): Promise<void> {
    if (this.finalizing.has(b.id)) return;
    this.finalizing.add(b.id);
    try {
      const at = () => new Date(this.clock.now());
      if (
        target === 'completed' &&
        b.status === 'in_progress' &&
        !(await this.repository.transition(b.id, ['in_progress'], 'finalizing', at()))
      )
        return;
      if (target === 'expired') {
        // As OpenAI does: every request not run by then gets a batch_expired line in the error file.
        this.changed(b.id);
        const input = await this.inputs.get(b);
        await this.repository.failUnfinished(b.id, [...input.lines.values()], BATCH_EXPIRED, at());
        const all = await this.repository.results(b.id);
        // Everything had finished before the window closed: it completed, it did not expire.
        if (!all.some((r) => r.error?.code === BATCH_EXPIRED.code)) {
          if (!(await this.repository.transition(b.id, ['in_progress'], 'finalizing', at()))) return;
          target = 'completed';
        }
      }
      const results = await this.repository.results(b.id);
      const ok = results.filter(succeeded);
      const bad = results.filter((r) => !succeeded(r));
      const suffix = b.id.replace(/^batch_/, '');
      const files: { outputFileId: string | null; errorFileId: string | null } = { outputFileId: null, errorFileId: null };
      for (const [kind, rows] of [
        ['output', ok],
        ['errors', bad],
      ] as const) {
        if (rows.length === 0) continue;
        const id = `file-${suffix}-${kind}`;
        const data = Buffer.from(rows.map(outputLine).join('\n') + '\n');
        await this.store.put(id, data);
        await this.repository.insertFile({
          id,
          userId: b.userId,
          keyId: b.keyId,
          filename: `${b.id}_${kind}.jsonl`,
          purpose: 'batch_output',
          bytes: data.length,
          createdAt: at(),
        });
        if (kind === 'output') files.outputFileId = id;
        else files.errorFileId = id;
      }
      const from: BatchStatus[] = target === 'completed' ? ['finalizing'] : target === 'cancelled' ? ['cancelling'] : ['in_progress'];
      if (await this.repository.transition(b.id, from, target, at(), files)) {
        this.logger.info('batch finished', { batchId: b.id, status: target, completed: ok.length, failed: bad.length, total: b.total });
        this.changed(b.id);
        this.inputs.forget(b.id);
      }
    } finally {
      this.finalizing.delete(b.id);
    }
  }

  private changed(batchId: string): void {
    for (const l of this.listeners) l(batchId);
  }
}
