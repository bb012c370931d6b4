import * as fs from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { createInbox, headers as natsHeaders, Msg, Subscription } from 'nats';
import { Counter, Gauge } from 'prom-client';
import { messageValidator, RequestCompleted } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { MessageBus, MessageTrace, setMessageTrace } from '@maas/nats';
import type { Context } from '@maas/telemetry';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';

const published = new Counter({ name: 'maas_gateway_usage_events_published_total', help: 'Usage events stored in JetStream' });
const dropped = new Counter({ name: 'maas_gateway_usage_events_dropped_total', help: 'Usage events dropped: buffer overflow during a NATS outage, or invalid' });
const buffered = new Gauge({ name: 'maas_gateway_usage_events_buffered', help: 'Usage events waiting to be stored or for their acknowledgement' });

const MAX_IN_FLIGHT = 1024;
const ACK_TIMEOUT_MS = 5000;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
const EVENT = 'usage.request-completed';

interface InFlight {
  readonly event: RequestCompleted;
  readonly sentAt: number;
}

/**
 * Stores every usage event in JetStream, de-duplicated by request id (`Nats-Msg-Id`), at least
 * once: events wait in a bounded buffer while NATS cannot take them and are retried with backoff;
 * an outage is logged when it starts and when it ends, and an event is dropped only when the
 * buffer overflows (logged and counted).
 *
 * During an outage the buffer is also spooled to a file (GATEWAY_USAGE_SPOOL_DIR), so a gateway that
 * is restarted or dies before NATS is back loses nothing: the next gateway to start on the host stores
 * what it finds there (JetStream de-duplicates by request id). Nothing touches the disk while events
 * flow.
 *
 * Publishing is pipelined: a plain publish with a reply subject per event, acknowledgements
 * matched on one inbox subscription, timeouts found by one sweep. This is what
 * `jetstream().publish()` does per call, without its per-call promise, timer and stack capture —
 * about a fifth of the gateway's CPU per request when measured (bench/gateway.ts).
 */
@Injectable()
export class UsageRepository implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly queue: RequestCompleted[] = [];
  private readonly inFlight = new Map<string, InFlight>();
  private readonly inbox = createInbox();
  private readonly subject: string;
  private readonly validator = messageValidator();
  /** Each event's trace, captured when the request was accounted: the event carries it whenever it is sent. */
  private readonly traces = new WeakMap<RequestCompleted, MessageTrace>();
  private subscription?: Subscription;
  private sweepTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
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
  ) {
    this.subject = bus.subjects.subject(EVENT);
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
    // Off the request path: publishing runs after pending I/O (the next request) has been handled.
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.scheduledPump);
    }
  }

  /** Events not yet stored (waiting, or sent and not acknowledged). */
  get pending(): number {
    return this.queue.length + this.inFlight.size;
  }

  private readonly scheduledPump = () => {
    this.scheduled = false;
    this.pump();
  };

  private pump(): void {
    if (this.retryTimer) return;
    const now = Date.now();
    while (this.inFlight.size < MAX_IN_FLIGHT && this.queue.length > 0) {
      const event = this.queue.shift()!;
      const checked = this.validator.message(EVENT, event);
      if (!checked.ok) {
        this.drop(event, `usage event is invalid: ${checked.error}`);
        continue;
      }
      const token = (++this.sequence).toString(36);
      const h = natsHeaders();
      h.set('Nats-Msg-Id', event.requestId);
      setMessageTrace(h, this.traces.get(event));
      try {
        this.bus.nc.publish(this.subject, Buffer.from(JSON.stringify(event)), { reply: `${this.inbox}.${token}`, headers: h });
      } catch (err) {
        this.queue.unshift(event);
        this.failed((err as Error).message);
        break;
      }
      this.inFlight.set(token, { event, sentAt: now });
    }
    buffered.set(this.pending);
  }

  private acknowledged(msg: Msg): void {
    const token = msg.subject.slice(this.inbox.length + 1);
    const entry = this.inFlight.get(token);
    if (!entry) return; // timed out earlier and already re-queued
    this.inFlight.delete(token);
    let error: string | undefined;
    if (msg.headers?.hasError) {
      error = msg.headers.code === 503 ? 'no JetStream stream takes usage events (503 no responders)' : `${msg.headers.code} ${msg.headers.description}`;
    } else {
      try {
        const ack = JSON.parse(Buffer.from(msg.data).toString('utf8')) as { error?: { description?: string; code?: number } };
        if (ack.error) error = `JetStream refused: ${ack.error.description ?? ack.error.code}`;
      } catch {
        error = 'unreadable JetStream acknowledgement';
      }
    }
    if (error) {
      this.queue.unshift(entry.event);
      this.failed(error);
      return;
    }
    published.inc();
    this.backoffMs = 0;
    if (this.outageSince !== undefined && this.queue.length === 0 && this.inFlight.size === 0) {
      this.logger.info('usage events flowing again', { outageMs: Date.now() - this.outageSince, dropped: this.droppedInOutage });
      this.outageSince = undefined;
      this.droppedInOutage = 0;
    }
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.scheduledPump);
    }
    if (this.pending === 0) {
      this.clearSpool();
      this.notifyIdle();
    }
  }

  /** Events sent but never acknowledged (NATS went away meanwhile) go back to the queue. */
  private sweep(): void {
    const now = Date.now();
    let expired = 0;
    for (const [token, entry] of this.inFlight) {
      if (now - entry.sentAt < ACK_TIMEOUT_MS) continue;
      this.inFlight.delete(token);
      this.queue.unshift(entry.event);
      expired++;
    }
    if (expired > 0) this.failed(`${expired} usage events not acknowledged within ${ACK_TIMEOUT_MS} ms`);
    buffered.set(this.pending);
  }

  private failed(reason: string): void {
    if (/503|no responders|stream/i.test(reason)) void this.bus.ensureStreams().catch(() => undefined);
    if (this.outageSince === undefined) {
      this.outageSince = Date.now();
      this.logger.warn('usage events cannot be stored; buffering and retrying', { reason, buffered: this.pending, spool: this.spoolDir ? this.spoolFile : null });
    }
    if (!this.spooling) this.writeSpool();
    if (!this.retryTimer) {
      this.backoffMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.backoffMs * 2));
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
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
    clearInterval(this.sweepTimer);
    this.subscription?.unsubscribe();
    if (left > 0) {
      this.writeSpool();
      if (this.spooling) this.logger.warn('shutting down with usage events not stored; they stay in the spool for the next gateway', { count: left, spool: this.spoolFile });
      else this.logger.error('shutting down with usage events not stored', { count: left });
    }
  }

  // ---- spool: the buffer on disk while it cannot be emptied ----

  private unstored(): RequestCompleted[] {
    return [...[...this.inFlight.values()].map((f) => f.event), ...this.queue];
  }

  /** (Re)writes the whole buffer to this process's spool file. */
  private writeSpool(): void {
    if (!this.spoolDir) return;
    try {
      fs.mkdirSync(this.spoolDir, { recursive: true });
      const tmp = `${this.spoolFile}.tmp`;
      fs.writeFileSync(tmp, this.unstored().map((e) => this.spoolLine(e)).join(''));
      fs.renameSync(tmp, this.spoolFile);
      this.spooling = true;
    } catch (err) {
      this.logger.error('cannot write the usage spool; usage events are in memory only', { spool: this.spoolFile, error: (err as Error).message });
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
      if (!file.startsWith(prefix) || !file.endsWith('.jsonl') || !Number.isInteger(pid) || pid === process.pid || processAlive(pid)) continue;
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
      setImmediate(this.scheduledPump);
    }
    for (const taken of takenFiles) fs.rmSync(taken, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
