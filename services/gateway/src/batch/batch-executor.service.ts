import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import type { KeyLimits } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import type { VerifiedKey } from '../policy/key-cache';
import { modelMatcher } from '../policy/model-access';
import type { InferenceRoute } from '../policy/openai-request';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { DispatchService } from '../services/dispatch.service';
import { RoutingService } from '../services/routing.service';
import { WorkerRegistryService } from '../services/worker-registry.service';
import { BatchGate } from '../policy/batch-gate';
import type { Settlement } from '../services/dispatch.service';
import { onBatchShed } from '../services/batch-shedding';
import { BatchFinalizerService, pastExpiry } from './batch-finalizer.service';
import { BatchResult, routeOf, succeeded } from './batch-input';
import { BatchInput, BatchInputsService } from './batch-inputs.service';
import { BatchQueueRepository, QueuedRequest } from './batch-queue.repository';
import { BatchRepository, BatchRow } from './batch.repository';

const inFlightGauge = new Gauge({ name: 'maas_gateway_batch_in_flight_requests', help: 'Batch requests this gateway is running' });
const shedTotal = new Counter({
  name: 'maas_gateway_batch_shed_total',
  help: 'Batch requests aborted on a worker over its adaptive batch limit and requeued (unbilled)',
});
const resultsTotal = new Counter({
  name: 'maas_gateway_batch_results_total',
  help: 'Batch request results written, by outcome',
  labelNames: ['outcome'],
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Answers worth another attempt: nothing ran, or the worker failed before answering. */
const RETRYABLE = new Set([429, 499, 502, 503, 504]);

/**
 * Runs queued batch requests through the same DispatchService path as interactive traffic,
 * only into workers' spare capacity (admitted by the BatchGate policy); writes each result once and
 * acks after the write. Batches are ended by BatchFinalizerService.
 */
@Injectable()
export class BatchExecutorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private running = false;
  private loop?: Promise<void>;
  private inFlight = 0;
  private readonly states = new Map<string, { row: BatchRow | undefined; at: number }>();
  /** Requests waiting for a batch slot, per model, oldest first (see slotFor). */
  private readonly gate = new BatchGate<Waiter>();
  private gateTimer?: NodeJS.Timeout;
  private gateTurn?: NodeJS.Immediate;
  /** Batch requests sent to workers, by request id: what shedding picks from. */
  private readonly dispatched = new Map<string, { settlement: Settlement; abort: AbortController; at: number }>();
  /** Times each line (batch id, line) was shed: sheds are not attempts. */
  private readonly sheds = new Map<string, number>();
  private unsubscribeShed?: () => void;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly inputs: BatchInputsService,
    private readonly repository: BatchRepository,
    private readonly queue: BatchQueueRepository,
    private readonly dispatcher: DispatchService,
    private readonly registry: WorkerRegistryService,
    private readonly routing: RoutingService,
    private readonly finalizer: BatchFinalizerService,
    private readonly logger: Logger,
  ) {
    finalizer.onChanged((batchId) => this.states.delete(batchId));
  }

  onApplicationBootstrap(): void {
    if (!this.config.GATEWAY_BATCH_EXECUTOR) return;
    this.running = true;
    this.loop = this.consume();
    this.unsubscribeShed = onBatchShed((workerId, count) => this.shed(workerId, count));
  }

  /**
   * Aborts up to `count` of the youngest batch requests running on the worker (the least work lost); each
   * ends unbilled and its line is queued again, not counted as an attempt. Returns how many were shed.
   */
  shed(workerId: string, count: number): number {
    const on = [...this.dispatched.values()]
      .filter((d) => d.settlement.record.workerId === workerId && !d.settlement.settled && !d.settlement.shed)
      .sort((a, b) => b.at - a.at)
      .slice(0, Math.max(0, count));
    for (const d of on) {
      d.settlement.shed = true;
      d.abort.abort();
    }
    return on.length;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.unsubscribeShed?.();
    await this.loop?.catch(() => undefined);
    // Unfinished requests are not acked: JetStream hands them to an executor again after the ack wait.
    const deadline = this.clock.monotonic() + this.config.GATEWAY_SHUTDOWN_GRACE;
    while (this.inFlight > 0 && this.clock.monotonic() < deadline) await sleep(50);
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
        this.finalizer.started(batchId);
        void this.run(q)
          .catch((err) => {
            this.logger.error('batch request failed unexpectedly; will be retried', { batchId, line: q.request.line, err });
            q.nak(1000);
          })
          .finally(() => {
            this.inFlight--;
            inFlightGauge.dec();
            this.finalizer.ended(batchId);
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
    if (!request || !route)
      return this.write(q, {
        customId,
        line,
        requestId: `${batchId}-${line}`,
        statusCode: null,
        body: null,
        error: { code: 'invalid_request', message: `line ${line} is not in the input file` },
      });

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
    // The batch runs on its key's rights: past the key's expiry no line is sent.
    if (current.keyExpiresAt && current.keyExpiresAt.getTime() <= this.clock.now()) {
      release();
      return this.write(q, {
        customId,
        line,
        requestId,
        statusCode: null,
        body: null,
        error: { code: 'key_expired', message: `the API key of this batch expired at ${current.keyExpiresAt.toISOString()}` },
      });
    }
    const keepAlive = setInterval(() => q.working(), Math.max(500, this.config.GATEWAY_BATCH_ACK_WAIT / 3));
    try {
      // With GATEWAY_BATCH_PRIORITY, the runtime's priority scheduler lets interactive requests preempt this one.
      const priority = this.config.GATEWAY_BATCH_PRIORITY;
      const requestBody = input.body(request);
      const upstreamBody = priority === undefined ? requestBody : { ...requestBody, priority };
      const got = await this.dispatch(requestId, route, batchKey(batch), Buffer.from(JSON.stringify(upstreamBody)));
      release();
      const lineKey = `${batchId}:${line}`;
      if (got.shed) {
        // shed to make room for interactive work: queued again at once, unbilled, not an attempt
        shedTotal.inc();
        this.sheds.set(lineKey, (this.sheds.get(lineKey) ?? 0) + 1);
        if (this.sheds.size > 10_000) this.sheds.delete(this.sheds.keys().next().value!);
        return q.nak(0);
      }
      const attempts = q.deliveries - (this.sheds.get(lineKey) ?? 0);
      let body: unknown = got.body;
      if (Buffer.isBuffer(got.body)) {
        try {
          body = got.body.length > 0 ? JSON.parse(got.body.toString('utf8')) : null;
        } catch {
          body = { error: { message: got.body.toString('utf8').slice(0, 500), type: 'server_error', code: 'invalid_upstream_body' } };
        }
      }
      const retryable = got.statusCode === null || RETRYABLE.has(got.statusCode);
      if (retryable && attempts < this.config.GATEWAY_BATCH_ATTEMPTS && this.running) {
        this.logger.warn('batch request will be retried', { batchId, line, status: got.statusCode, attempt: attempts });
        return q.nak(1000 * attempts);
      }
      this.sheds.delete(lineKey);
      await this.write(
        q,
        got.statusCode === null
          ? {
              customId,
              line,
              requestId,
              statusCode: null,
              body: null,
              error: { code: 'upstream_disconnected', message: 'the worker closed the connection before the response was complete' },
            }
          : { customId, line, requestId, statusCode: got.statusCode, body, error: null },
      );
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
  private async dispatch(
    requestId: string,
    route: InferenceRoute,
    key: VerifiedKey,
    raw: Buffer,
  ): Promise<{ statusCode: number | null; body: Buffer | object | null; shed: boolean }> {
    const settlement = this.dispatcher.begin(requestId, route, key, this.clock.now(), this.clock.monotonic(), { kind: 'batch' });
    // Aborted only to shed it (see shed): batch work has no client to go away.
    const abort = new AbortController();
    this.dispatched.set(requestId, { settlement, abort, at: this.clock.monotonic() });
    try {
      const outcome = await this.dispatcher.dispatch({ settlement, raw, contentType: 'application/json', signal: abort.signal });
      if (outcome.kind === 'gone') return { statusCode: null, body: null, shed: settlement.shed };
      if (outcome.kind === 'error') return { statusCode: outcome.status, body: outcome.body, shed: settlement.shed };
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of outcome.body) chunks.push(chunk as Buffer);
      } catch {
        return { statusCode: null, body: Buffer.concat(chunks), shed: settlement.shed };
      }
      return { statusCode: outcome.status, body: Buffer.concat(chunks), shed: settlement.shed };
    } finally {
      this.dispatched.delete(requestId);
    }
  }

  /**
   * Holds the request until the gate gives it one of the model's free batch slots (held under
   * `requestId` until routing counts it on a worker); false when the request was dropped.
   */
  private async waitForCapacity(q: QueuedRequest, batch: BatchRow, model: string, requestId: string): Promise<boolean> {
    let lastWorking = this.clock.monotonic();
    for (;;) {
      if (!this.running) {
        q.nak(0);
        return false;
      }
      if (!this.registry.knownModel(model)) {
        await this.write(q, {
          customId: q.request.customId,
          line: q.request.line,
          requestId: `${batch.id}-L${q.request.line}`,
          statusCode: 404,
          body: {
            error: {
              message: `the model "${model}" does not exist or no worker serves it`,
              type: 'invalid_request_error',
              param: 'model',
              code: 'model_not_found',
            },
          },
          error: null,
        });
        return false;
      }
      if (await this.slotFor(model, requestId, 1000)) return true;
      if (this.clock.monotonic() - lastWorking > this.config.GATEWAY_BATCH_ACK_WAIT / 3) {
        q.working();
        lastWorking = this.clock.monotonic();
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
      const waiter: Waiter = {
        requestId,
        admit: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.gate.leave(model, waiter);
        resolve(false);
      }, maxWaitMs);
      this.gate.wait(model, waiter);
      this.gateTimer ??= setInterval(() => this.openGate(), GATE_INTERVAL_MS);
      this.openGate();
    });
  }

  /** Takes the gate's turns (see BatchGate), one per event-loop turn while any is admitted. */
  private openGate(): void {
    if (this.gateTurn) return;
    const turn = () => {
      this.gateTurn = undefined;
      const admitted = this.gate.turn((model) => this.spare(model));
      for (const { model, waiter } of admitted) {
        this.routing.holdBatchSlot(waiter.requestId, model);
        waiter.admit();
      }
      if (this.gate.idle) {
        clearInterval(this.gateTimer);
        this.gateTimer = undefined;
      } else if (admitted.length > 0) {
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
      this.logger.warn('writing a batch result failed; will be retried', {
        batchId: q.request.batchId,
        line: q.request.line,
        error: (err as Error).message,
      });
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
}

interface Waiter {
  readonly requestId: string;
  readonly admit: () => void;
}

/** How often waiting batch requests are matched with free slots (slots also free as responses end). */
const GATE_INTERVAL_MS = 25;

/**
 * The key a batch was created with, as it was then: its models (checked line by line at creation,
 * and again on dispatch) and expiry. Batches from before the key's models were kept were checked at creation.
 */
function batchKey(b: BatchRow): VerifiedKey {
  const allowsModel = b.keyAllowedModels ? modelMatcher(b.keyAllowedModels) : () => true;
  return {
    keyId: b.keyId,
    userId: b.userId,
    prefix: b.keyPrefix,
    trusted: false,
    limits: {} as KeyLimits,
    expiresAt: b.keyExpiresAt?.getTime(),
    allowsModel,
  };
}
