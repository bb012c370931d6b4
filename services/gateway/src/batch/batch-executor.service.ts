import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { KeyLimits } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import type { VerifiedKey } from '../policy/key-cache';
import type { InferenceRoute } from '../policy/openai-request';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { DispatchService } from '../services/dispatch.service';
import { RoutingService } from '../services/routing.service';
import { WorkerRegistryService } from '../services/worker-registry.service';
import { BatchResult, outputLine, routeOf, succeeded } from './batch-input';
import { BatchInput, BatchInputsService } from './batch-inputs.service';
import { BatchQueueRepository, QueuedRequest } from './batch-queue.repository';
import { BatchRepository, BatchRow, BatchStatus } from './batch.repository';
import { FILE_STORE, FileStore } from './file-store.repository';

const inFlightGauge = new Gauge({ name: 'maas_gateway_batch_in_flight_requests', help: 'Batch requests this gateway is running' });
const resultsTotal = new Counter({ name: 'maas_gateway_batch_results_total', help: 'Batch request results written, by outcome', labelNames: ['outcome'] });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Batch work has no client to go away: its dispatch is never abandoned midway. */
const NEVER = new AbortController().signal;
/** Answers worth another attempt: nothing ran, or the worker failed before answering. */
const RETRYABLE = new Set([429, 499, 502, 503, 504]);

/**
 * Runs queued batch requests through the same DispatchService path as interactive traffic,
 * only into workers' spare capacity; writes each result once, acks after the write, and
 * finalizes batches (output and error files) as they complete, are cancelled or expire.
 */
@Injectable()
export class BatchExecutorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private running = false;
  private loop?: Promise<void>;
  private sweepTimer?: NodeJS.Timeout;
  private inFlight = 0;
  private readonly perBatch = new Map<string, number>();
  private readonly states = new Map<string, { row: BatchRow | undefined; at: number }>();
  private readonly finalizing = new Set<string>();
  /** Requests waiting for a batch slot, per model, oldest first (see slotFor). */
  private readonly gate = new Map<string, Waiter[]>();
  private gateTimer?: NodeJS.Timeout;
  private gateTurn?: NodeJS.Immediate;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    @Inject(FILE_STORE) private readonly store: FileStore,
    private readonly inputs: BatchInputsService,
    private readonly repository: BatchRepository,
    private readonly queue: BatchQueueRepository,
    private readonly dispatcher: DispatchService,
    private readonly registry: WorkerRegistryService,
    private readonly routing: RoutingService,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.GATEWAY_BATCH_EXECUTOR) return;
    this.running = true;
    this.loop = this.consume();
    const sweep = () => {
      this.sweepTimer = setTimeout(() => void this.sweep().catch((err) => this.logger.warn('batch sweep failed', { error: (err as Error).message })).finally(() => this.running && sweep()), this.config.GATEWAY_BATCH_SWEEP);
    };
    sweep();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    clearTimeout(this.sweepTimer);
    await this.loop?.catch(() => undefined);
    // Unfinished requests are not acked: JetStream hands them to an executor again after the ack wait.
    const deadline = Date.now() + this.config.GATEWAY_SHUTDOWN_GRACE;
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(50);
    clearInterval(this.gateTimer);
    this.gateTimer = undefined;
    if (this.gateTurn) clearImmediate(this.gateTurn);
    this.gateTurn = undefined;
  }

  private async consume(): Promise<void> {
    while (this.running) {
      const free = this.config.GATEWAY_BATCH_MAX_IN_FLIGHT - this.inFlight;
      if (free <= 0) {
        await sleep(20);
        continue;
      }
      let taken: QueuedRequest[];
      try {
        taken = await this.queue.take(Math.min(free, 64), 1000, this.config.GATEWAY_BATCH_ACK_WAIT);
      } catch (err) {
        if (this.running) this.logger.warn('taking batch work failed; retrying', { error: (err as Error).message });
        await sleep(1000);
        continue;
      }
      for (const q of taken) {
        this.inFlight++;
        inFlightGauge.inc();
        const batchId = q.request.batchId;
        this.perBatch.set(batchId, (this.perBatch.get(batchId) ?? 0) + 1);
        void this.run(q)
          .catch((err) => {
            this.logger.error('batch request failed unexpectedly; will be retried', { batchId, line: q.request.line, err });
            q.nak(1000);
          })
          .finally(() => {
            this.inFlight--;
            inFlightGauge.dec();
            const n = (this.perBatch.get(batchId) ?? 1) - 1;
            if (n > 0) this.perBatch.set(batchId, n);
            else this.perBatch.delete(batchId);
          });
      }
    }
  }

  private async run(q: QueuedRequest): Promise<void> {
    const { batchId, line, customId } = q.request;
    const batch = await this.state(batchId);
    // Queued a moment before the batch row says in_progress: try again shortly, never drop it.
    if (batch?.status === 'validating') {
      this.states.delete(batchId);
      return q.nak(200);
    }
    // Cancelled, expired or gone: the request is dropped without running (the sweep writes its batch_expired line).
    if (!batch || batch.status !== 'in_progress' || pastExpiry(batch, this.clock.now())) return q.ack();
    if (await this.repository.hasResult(batchId, customId)) return q.ack();
    const input = await this.input(batch);
    const request = input.lines.get(line);
    const route = routeOf(batch.endpoint);
    if (!request || !route) return this.write(q, { customId, line, requestId: `${batchId}-${line}`, statusCode: null, body: null, error: { code: 'invalid_request', message: `line ${line} is not in the input file` } });

    const requestId = `${batchId}-L${line}-a${q.deliveries}`;
    // Admitted with a slot held under its request id until routing counts it on a worker (or it ends).
    const admitted = await this.waitForCapacity(q, batch, request.model, requestId);
    if (!admitted) return;
    const release = () => this.routing.releaseBatchSlot(requestId);
    // It may have waited for capacity past the batch's expiry or cancellation.
    const current = await this.state(batchId);
    if (!current || current.status !== 'in_progress' || pastExpiry(current, this.clock.now())) {
      release();
      return q.ack();
    }
    const keepAlive = setInterval(() => q.working(), Math.max(500, this.config.GATEWAY_BATCH_ACK_WAIT / 3));
    try {
      // With GATEWAY_BATCH_PRIORITY, the runtime's priority scheduler lets interactive requests preempt this one.
      const priority = this.config.GATEWAY_BATCH_PRIORITY;
      const requestBody = input.body(request);
      const upstreamBody = priority === undefined ? requestBody : { ...requestBody, priority };
      const got = await this.dispatch(requestId, route, batchKey(batch), Buffer.from(JSON.stringify(upstreamBody)));
      release();
      let body: unknown = got.body;
      if (Buffer.isBuffer(got.body)) {
        try {
          body = got.body.length > 0 ? JSON.parse(got.body.toString('utf8')) : null;
        } catch {
          body = { error: { message: got.body.toString('utf8').slice(0, 500), type: 'server_error', code: 'invalid_upstream_body' } };
        }
      }
      const retryable = got.statusCode === null || RETRYABLE.has(got.statusCode);
      if (retryable && q.deliveries < this.config.GATEWAY_BATCH_ATTEMPTS && this.running) {
        this.logger.warn('batch request will be retried', { batchId, line, status: got.statusCode, attempt: q.deliveries });
        return q.nak(1000 * q.deliveries);
      }
      await this.write(q, got.statusCode === null
        ? { customId, line, requestId, statusCode: null, body: null, error: { code: 'upstream_disconnected', message: 'the worker closed the connection before the response was complete' } }
        : { customId, line, requestId, statusCode: got.statusCode, body, error: null });
    } finally {
      clearInterval(keepAlive);
      release();
    }
  }

  /**
   * One request of a batch, for the key that created it: the same body checks, routing, retries and
   * usage event as interactive traffic, with `kind: 'batch'` and no interactive limits. The answer is
   * its status and body (a Buffer for the runtime's answer, an object for an error), or a null status
   * when the answer was cut short.
   */
  private async dispatch(requestId: string, route: InferenceRoute, key: VerifiedKey, raw: Buffer): Promise<{ statusCode: number | null; body: Buffer | object | null }> {
    const settlement = this.dispatcher.begin(requestId, route, key, this.clock.now(), this.clock.monotonic(), { kind: 'batch' });
    const outcome = await this.dispatcher.dispatch({ settlement, raw, contentType: 'application/json', signal: NEVER });
    if (outcome.kind === 'gone') return { statusCode: null, body: null };
    if (outcome.kind === 'error') return { statusCode: outcome.status, body: outcome.body };
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of outcome.body) chunks.push(chunk as Buffer);
    } catch {
      return { statusCode: null, body: Buffer.concat(chunks) };
    }
    return { statusCode: outcome.status, body: Buffer.concat(chunks) };
  }

  /**
   * Holds the request until the gate gives it one of the model's free batch slots (held under
   * `requestId` until routing counts it on a worker); false when the request was dropped.
   */
  private async waitForCapacity(q: QueuedRequest, batch: BatchRow, model: string, requestId: string): Promise<boolean> {
    let lastWorking = Date.now();
    for (;;) {
      if (!this.running) {
        q.nak(0);
        return false;
      }
      if (!this.registry.knownModel(model)) {
        await this.write(q, { customId: q.request.customId, line: q.request.line, requestId: `${batch.id}-L${q.request.line}`, statusCode: 404,
          body: { error: { message: `the model "${model}" does not exist or no worker serves it`, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } }, error: null });
        return false;
      }
      if (await this.slotFor(model, requestId, 1000)) return true;
      if (Date.now() - lastWorking > this.config.GATEWAY_BATCH_ACK_WAIT / 3) {
        q.working();
        lastWorking = Date.now();
        const now = await this.state(batch.id);
        if (!now || now.status !== 'in_progress') {
          q.ack();
          return false;
        }
      }
    }
  }

  /**
   * Resolves true once the gate has held a batch slot of `model` for `requestId`, oldest waiter first, or
   * false after `maxWaitMs` so the caller re-checks its batch. One timer serves every waiter: hundreds of
   * queued batch requests each polling on its own would cost the interactive requests CPU.
   */
  private slotFor(model: string, requestId: string, maxWaitMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const queue = this.gate.get(model) ?? [];
      this.gate.set(model, queue);
      const waiter: Waiter = {
        requestId,
        admit: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        resolve(false);
      }, maxWaitMs);
      queue.push(waiter);
      this.gateTimer ??= setInterval(() => this.openGate(), GATE_INTERVAL_MS);
      this.openGate();
    });
  }

  /**
   * Admits each model's oldest waiter while it has a free batch slot, one per model per event-loop
   * turn: a request admitted runs its whole dispatch (body, parsing, routing) before its first I/O, so
   * admitting dozens in one turn (a wave of batch requests finishing together) would hold up every
   * interactive request arriving meanwhile; one per turn lets their I/O in between.
   */
  private openGate(): void {
    if (this.gateTurn) return;
    const turn = () => {
      this.gateTurn = undefined;
      let admitted = false;
      for (const [model, queue] of this.gate) {
        if (queue.length > 0 && this.spare(model) > 0) {
          const waiter = queue.shift()!;
          this.routing.holdBatchSlot(waiter.requestId, model);
          waiter.admit();
          admitted = true;
        }
        if (queue.length === 0) this.gate.delete(model);
      }
      if (this.gate.size === 0) {
        clearInterval(this.gateTimer);
        this.gateTimer = undefined;
      } else if (admitted) {
        this.gateTurn = setImmediate(turn);
      }
    };
    this.gateTurn = setImmediate(turn);
  }

  /** Batch slots free across the model's batch lane, less those held by admitted requests not yet on a worker. */
  private spare(model: string): number {
    let spare = 0;
    for (const n of this.routing.batchSlots(model).values()) spare += n;
    return spare - this.routing.heldBatchSlots(model);
  }

  /** Exactly once per (batch, custom_id): a redelivered request finds its row and only acks. */
  private async write(q: QueuedRequest, result: BatchResult): Promise<void> {
    try {
      const fresh = await this.repository.insertResult(q.request.batchId, result, new Date(this.clock.now()));
      resultsTotal.inc({ outcome: !fresh ? 'duplicate' : succeeded(result) ? 'completed' : 'failed' });
    } catch (err) {
      this.logger.warn('writing a batch result failed; will be retried', { batchId: q.request.batchId, line: q.request.line, error: (err as Error).message });
      return q.nak(1000);
    }
    q.ack();
  }

  private async state(batchId: string): Promise<BatchRow | undefined> {
    const cached = this.states.get(batchId);
    const now = this.clock.monotonic();
    if (cached && now - cached.at < 500) return cached.row;
    const row = await this.repository.batch(batchId);
    this.states.set(batchId, { row, at: now });
    if (this.states.size > 1000) this.states.delete(this.states.keys().next().value!);
    return row;
  }

  private input(batch: BatchRow): Promise<BatchInput> {
    return this.inputs.get(batch);
  }

  /** Completion, cancellation, expiry and restarts left half done, for every unfinished batch. */
  private async sweep(): Promise<void> {
    const batches = await this.repository.unfinished();
    if (batches.length === 0) return;
    const counts = await this.repository.counts(batches.map((b) => b.id));
    const now = this.clock.now();
    for (const b of batches) {
      const c = counts.get(b.id) ?? { completed: 0, failed: 0 };
      if (b.status === 'validating' && now - new Date(b.createdAt).getTime() > 60_000) {
        // Created but never fully queued (the gateway stopped mid-create): queue again, de-duplicated.
        const input = await this.input(b);
        await this.queue.enqueue([...input.lines.values()].map((l) => ({ batchId: b.id, line: l.line, customId: l.customId })));
        await this.repository.transition(b.id, ['validating'], 'in_progress', new Date(now));
      } else if (b.status === 'in_progress' && pastExpiry(b, now)) {
        // Before the completion check: a crash after the batch_expired rows were written must still end as expired.
        await this.finalize(b, 'expired');
      } else if (b.status === 'in_progress' && c.completed + c.failed >= b.total) {
        await this.finalize(b, 'completed');
      } else if (b.status === 'finalizing') {
        await this.finalize(b, 'completed');
      } else if (b.status === 'cancelling' && !this.perBatch.has(b.id)) {
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
      if (target === 'completed' && b.status === 'in_progress' && !(await this.repository.transition(b.id, ['in_progress'], 'finalizing', at()))) return;
      if (target === 'expired') {
        // As OpenAI does: every request not run by then gets a batch_expired line in the error file.
        this.states.delete(b.id);
        const input = await this.input(b);
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
      for (const [kind, rows] of [['output', ok], ['errors', bad]] as const) {
        if (rows.length === 0) continue;
        const id = `file-${suffix}-${kind}`;
        const data = Buffer.from(rows.map(outputLine).join('\n') + '\n');
        await this.store.put(id, data);
        await this.repository.insertFile({ id, userId: b.userId, keyId: b.keyId, filename: `${b.id}_${kind}.jsonl`, purpose: 'batch_output', bytes: data.length, createdAt: at() });
        if (kind === 'output') files.outputFileId = id;
        else files.errorFileId = id;
      }
      const from: BatchStatus[] = target === 'completed' ? ['finalizing'] : target === 'cancelled' ? ['cancelling'] : ['in_progress'];
      if (await this.repository.transition(b.id, from, target, at(), files)) {
        this.logger.info('batch finished', { batchId: b.id, status: target, completed: ok.length, failed: bad.length, total: b.total });
        this.states.delete(b.id);
        this.inputs.forget(b.id);
      }
    } finally {
      this.finalizing.delete(b.id);
    }
  }
}

interface Waiter {
  readonly requestId: string;
  readonly admit: () => void;
}

/** How often waiting batch requests are matched with free slots (slots also free as responses end). */
const GATE_INTERVAL_MS = 25;
const BATCH_EXPIRED = { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' };
const pastExpiry = (b: BatchRow, now: number) => new Date(b.expiresAt).getTime() <= now;

/** The key a batch was created with; its model permissions were checked then, line by line. */
function batchKey(b: BatchRow): VerifiedKey {
  return { keyId: b.keyId, userId: b.userId, prefix: b.keyPrefix, trusted: false, limits: {} as KeyLimits, allowsModel: () => true };
}
