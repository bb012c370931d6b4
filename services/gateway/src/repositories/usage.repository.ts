import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createInbox, headers as natsHeaders, Msg, Subscription } from 'nats';
import { Counter, Gauge } from 'prom-client';
import { messageValidator, RequestCompleted, RequestsCompleted } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { inboxPrefixOf, MessageBus, MessageTrace } from '@maas/nats';
import type { Context } from '@maas/telemetry';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { GATEWAY_CLOCK, GatewayClock } from './clock';

const published = new Counter({ name: 'maas_gateway_usage_events_published_total', help: 'Usage events stored in JetStream' });
const dropped = new Counter({
  name: 'maas_gateway_usage_events_dropped_total',
  help: 'Usage events dropped: buffer overflow during a NATS outage, or invalid',
});
const buffered = new Gauge({
  name: 'maas_gateway_usage_events_buffered',
  help: 'Usage events waiting to be stored or for their acknowledgement',
});

/** A batch goes out when it holds this many events, or when its first event has waited BATCH_WINDOW_MS. */
const BATCH_RECORDS = 256;
const BATCH_WINDOW_MS = 50;
/** Batches sent and not yet acknowledged. */
const MAX_IN_FLIGHT = 16;
const ACK_TIMEOUT_MS = 5000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
const EVENT = 'usage.request-completed';
const BATCH = 'usage.requests-completed';

interface InFlight {
  readonly events: RequestCompleted[];
  readonly sentAt: number;
}

/**
 * Stores every usage event in JetStream, at least once, in batches (`usage.requests-completed`: one
 * message per BATCH_RECORDS events or BATCH_WINDOW_MS, whichever comes first); each record keeps its
 * request id, by which the ledger stores it once, and its request's trace context. A batch's
 * `Nats-Msg-Id` is derived from its request ids, so a batch resent unchanged is also dropped by
 * JetStream. Events wait in a bounded buffer while NATS cannot take them and are retried with backoff;
 * an outage is logged when it starts and when it ends, and an event is dropped only when the
 * buffer overflows (logged and counted).
 *
 * During an outage the buffer is also spooled to a file (GATEWAY_USAGE_SPOOL_DIR), so a gateway that
 * is restarted or dies before NATS is back loses nothing: the next gateway to start on the host stores
 * what it finds there (JetStream de-duplicates by request id). Nothing touches the disk while events
 * flow.
 *
 * Publishing is pipelined: a plain publish with a reply subject per batch, acknowledgements
 * matched on one inbox subscription, timeouts found by one sweep. This is what
 * `jetstream().publish()` does per call, without its per-call promise, timer and stack capture.
 * Batching is what keeps accounting cheap for the whole platform: one JetStream store, one
 * acknowledgement and one ledger INSERT per batch instead of per request (bench/gateway.ts --platform).
 */
@Injectable()
export class UsageRepository implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly queue: RequestCompleted[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private readonly inbox: string;
  private readonly subject: string;
  private readonly validator = messageValidator();
  /** Each event's trace, captured when the request was accounted: the event carries it whenever it is sent. */
  private readonly traces = new WeakMap<RequestCompleted, MessageTrace>();
  private subscription?: Subscription;
  private sweepTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  /** Set while a partial batch waits for its window to close. */
  private windowTimer?: NodeJS.Timeout;
  private scheduled = false;
  private sequence = 0;
  private backoffMs = 0;
  private outageSince?: number;
  private droppedInOutage = 0;
  private readonly idle: (() => void)[] = [];
  /** This process's spool file, while it holds events. */
  private spooling = false;
  private readonly spoolDir: string;
  private readonly spoolFile: string;

  constructor(
    private readonly bus: MessageBus,
    private readonly logger: Logger,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
  ) {
    this.subject = bus.subjects.subject(BATCH);
    // Under this connection's own prefix: NATS lets only this identity read the acks.
    this.inbox = createInbox(inboxPrefixOf(bus.nc));
    this.spoolDir = config.GATEWAY_USAGE_SPOOL_DIR;
    this.spoolFile = path.join(this.spoolDir, `${bus.subjects.namespace}-${process.pid}.jsonl`);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.subscription = this.bus.nc.subscribe(`${this.inbox}.*`, { callback: (_err, msg) => this.acknowledged(msg) });
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    this.recoverSpools();
    try {
      await this.bus.ensureStreams();
    } catch (err) {
      this.logger.warn('could not ensure JetStream streams; usage events will be retried', { error: (err as Error).message });
    }
  }

  /** Queues a usage event; `trace` is the request's trace context, which the event carries. */
  record(event: RequestCompleted, trace?: Context): void {
    const carried = this.bus.traceLater(EVENT, trace, event.requestId);
    if (carried) this.traces.set(event, carried);
    if (this.queue.length >= this.config.GATEWAY_USAGE_BUFFER) {
      const lost = this.queue.shift()!;
      this.drop(lost, 'usage buffer full: dropped the oldest usage event');
    }
    this.queue.push(event);
    if (this.spooling) this.appendSpool([event]);
    // Off the request path: a full batch goes after pending I/O (the next request) has been handled.
    if (this.queue.length >= BATCH_RECORDS) this.schedulePump();
    else this.openWindow();
  }

  /** Events not yet stored (waiting, or sent and not acknowledged). */
  get pending(): number {
    return this.queue.length + this.inFlight.size;
  }

  private schedulePump(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.scheduledPump);
  }

  private readonly scheduledPump = () => {
    this.scheduled = false;
    this.pump(false);
  };

  /** Starts the window of the batch being gathered, unless one is open already. */
  private openWindow(): void {
    if (this.windowTimer || this.queue.length === 0) return;
    this.windowTimer = setTimeout(this.windowClosed, BATCH_WINDOW_MS);
  }

  private readonly windowClosed = () => {
    this.windowTimer = undefined;
    this.pump(true);
  };

  /** Sends full batches, and a partial one too when `partial` (its window closed, a retry, a flush). */
  private pump(partial: boolean): void {
    if (this.retryTimer) return;
    const now = this.clock.monotonic();
    while (this.inFlight.size < MAX_IN_FLIGHT && (this.queue.length >= BATCH_RECORDS || (partial && this.queue.length > 0))) {
      const events = this.nextBatch();
      if (events.length === 0) continue;
      const token = (++this.sequence).toString(36);
      const h = natsHeaders();
      h.set('Nats-Msg-Id', batchId(events));
      try {
        this.bus.nc.publish(this.subject, Buffer.from(JSON.stringify(this.batchOf(events))), {
          reply: `${this.inbox}.${token}`,
          headers: h,
        });
      } catch (err) {
        this.queue.unshift(...events);
        this.failed((err as Error).message);
        break;
      }
      this.inFlight.set(token, { events, sentAt: now });
    }
    if (this.queue.length > 0 && !this.retryTimer) this.openWindow();
    buffered.set(this.pending);
  }

  /** Takes the next batch off the queue, dropping (and logging) any event that is not a valid usage event. */
  private nextBatch(): RequestCompleted[] {
    return this.queue.splice(0, BATCH_RECORDS).filter((event) => {
      const checked = this.validator.message(EVENT, event);
      if (!checked.ok) this.drop(event, `usage event is invalid: ${checked.error}`);
      return checked.ok;
    });
  }

  /** The message: each record with the trace context of its own request. */
  private batchOf(events: RequestCompleted[]): RequestsCompleted {
    return {
      records: events.map((event) => {
        const trace = this.traces.get(event);
        if (!trace?.traceparent) return { event };
        return trace.tracestate
          ? { event, traceparent: trace.traceparent, tracestate: trace.tracestate }
          : { event, traceparent: trace.traceparent };
      }),
    };
  }

  private acknowledged(msg: Msg): void {
    const token = msg.subject.slice(this.inbox.length + 1);
    const entry = this.inFlight.get(token);
    if (!entry) return; // timed out earlier and already re-queued
    this.inFlight.delete(token);
    let error: string | undefined;
    if (msg.headers?.hasError) {
      error =
        msg.headers.code === 503
          ? 'no JetStream stream takes usage events (503 no responders)'
          : `${msg.headers.code} ${msg.headers.description}`;
    } else {
      try {
        const ack = JSON.parse(Buffer.from(msg.data).toString('utf8')) as { error?: { description?: string; code?: number } };
        if (ack.error) error = `JetStream refused: ${ack.error.description ?? ack.error.code}`;
      } catch {
        error = 'unreadable JetStream acknowledgement';
      }
    }
    if (error) {
      this.queue.unshift(...entry.events);
      this.failed(error);
      return;
    }
    published.inc(entry.events.length);
    this.backoffMs = 0;
    if (this.outageSince !== undefined && this.queue.length === 0 && this.inFlight.size === 0) {
      this.logger.info('usage events flowing again', {
        outageMs: this.clock.monotonic() - this.outageSince,
        dropped: this.droppedInOutage,
      });
      this.outageSince = undefined;
      this.droppedInOutage = 0;
    }
    if (this.queue.length >= BATCH_RECORDS) this.schedulePump();
    if (this.pending === 0) {
      this.clearSpool();
      this.notifyIdle();
    }
  }

  /** Batches sent but never acknowledged (NATS went away meanwhile) go back to the queue. */
  private sweep(): void {
    const now = this.clock.monotonic();
    let expired = 0;
    for (const [token, entry] of this.inFlight) {
      if (now - entry.sentAt < ACK_TIMEOUT_MS) continue;
      this.inFlight.delete(token);
      this.queue.unshift(...entry.events);
      expired += entry.events.length;
    }
    if (expired > 0) this.failed(`${expired} usage events not acknowledged within ${ACK_TIMEOUT_MS} ms`);
    buffered.set(this.pending);
  }

  private failed(reason: string): void {
    if (/503|no responders|stream/i.test(reason)) void this.bus.ensureStreams().catch(() => undefined);
    if (this.outageSince === undefined) {
      this.outageSince = this.clock.monotonic();
      this.logger.warn('usage events cannot be stored; buffering and retrying', {
        reason,
        buffered: this.pending,
        spool: this.spoolDir ? this.spoolFile : null,
      });
    }
    if (!this.spooling) this.writeSpool();
    if (!this.retryTimer) {
      this.backoffMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.backoffMs * 2));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump(true);
      }, this.backoffMs);
    }
    buffered.set(this.pending);
  }

  private drop(event: RequestCompleted, why: string): void {
    dropped.inc();
    this.droppedInOutage++;
    this.logger.error(why, { requestId: event.requestId, keyId: event.keyId, buffered: this.pending });
  }

  private notifyIdle(): void {
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Waits until every buffered event is stored, at most `timeoutMs`; returns how many remain. */
  async flush(timeoutMs: number): Promise<number> {
    if (this.pending === 0) return 0;
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    this.pump(true);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.pending;
  }

  async onApplicationShutdown(): Promise<void> {
    const left = await this.flush(5000);
    clearTimeout(this.retryTimer);
    clearTimeout(this.windowTimer);
    clearInterval(this.sweepTimer);
    this.subscription?.unsubscribe();
    if (left > 0) {
      this.writeSpool();
      if (this.spooling)
        this.logger.warn('shutting down with usage events not stored; they stay in the spool for the next gateway', {
          count: left,
          spool: this.spoolFile,
        });
      else this.logger.error('shutting down with usage events not stored', { count: left });
    }
  }

  // ---- spool: the buffer on disk while it cannot be emptied ----

  private unstored(): RequestCompleted[] {
    return [...[...this.inFlight.values()].flatMap((f) => f.events), ...this.queue];
  }

  /** (Re)writes the whole buffer to this process's spool file. */
  private writeSpool(): void {
    if (!this.spoolDir) return;
    try {
      fs.mkdirSync(this.spoolDir, { recursive: true });
      const tmp = `${this.spoolFile}.tmp`;
      fs.writeFileSync(
        tmp,
        this.unstored()
          .map((e) => this.spoolLine(e))
          .join(''),
      );
      fs.renameSync(tmp, this.spoolFile);
      this.spooling = true;
    } catch (err) {
      this.logger.error('cannot write the usage spool; usage events are in memory only', {
        spool: this.spoolFile,
        error: (err as Error).message,
      });
    }
  }

  private appendSpool(events: RequestCompleted[]): void {
    try {
      fs.appendFileSync(this.spoolFile, events.map((e) => this.spoolLine(e)).join(''));
    } catch (err) {
      this.logger.error('cannot append to the usage spool', { spool: this.spoolFile, error: (err as Error).message });
    }
  }

  /** One event per line (JSON), with its trace under `$traceparent` when it has one. */
  private spoolLine(e: RequestCompleted): string {
    const traceparent = this.traces.get(e)?.traceparent;
    return `${JSON.stringify(traceparent ? { ...e, $traceparent: traceparent } : e)}\n`;
  }

  private clearSpool(): void {
    if (!this.spooling) return;
    this.spooling = false;
    fs.rmSync(this.spoolFile, { force: true });
  }

  /** Takes over the spool files of this namespace's gateways that are no longer running, and stores their events. */
  private recoverSpools(): void {
    if (!this.spoolDir) return;
    let files: string[];
    try {
      files = fs.readdirSync(this.spoolDir);
    } catch {
      return; // nothing was ever spooled here
    }
    const prefix = `${this.bus.subjects.namespace}-`;
    const recovered: RequestCompleted[] = [];
    const takenFiles: string[] = [];
    for (const file of files) {
      const pid = Number(file.slice(prefix.length, -'.jsonl'.length));
      if (!file.startsWith(prefix) || !file.endsWith('.jsonl') || !Number.isInteger(pid) || pid === process.pid || processAlive(pid))
        continue;
      const taken = path.join(this.spoolDir, `${file}.${process.pid}.recovering`);
      try {
        fs.renameSync(path.join(this.spoolDir, file), taken); // atomic: two gateways starting at once do not both take it
      } catch {
        continue;
      }
      let bad = 0;
      const before = recovered.length;
      for (const line of fs.readFileSync(taken, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        try {
          const { $traceparent, ...event } = JSON.parse(line) as RequestCompleted & { $traceparent?: string };
          if ($traceparent) this.traces.set(event, { traceparent: $traceparent });
          recovered.push(event);
        } catch {
          bad++; // a line cut short by a crash
        }
      }
      this.logger.info('usage events recovered from a spool', { file, events: recovered.length - before, unreadable: bad });
      takenFiles.push(taken);
    }
    if (recovered.length > 0) {
      this.queue.push(...recovered);
      this.writeSpool(); // ours now, until they are stored
      setImmediate(() => this.pump(true));
    }
    for (const taken of takenFiles) fs.rmSync(taken, { force: true });
  }
}

/** A batch's JetStream de-duplication id: the same events, in the same order, give the same id. */
function batchId(events: readonly RequestCompleted[]): string {
  const hash = createHash('sha256');
  for (const e of events) hash.update(e.requestId).update('\n');
  return `batch-${hash.digest('base64url')}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
