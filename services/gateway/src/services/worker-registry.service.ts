import { randomUUID } from 'node:crypto';
import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type {
  ModelCataloguePublished,
  ModelDemandPending,
  WorkerDeregistered,
  WorkerDraining,
  WorkerHeartbeat,
  WorkerRegistered,
} from '@maas/contracts';
import { Logger } from '@maas/logging';
import { BusLink, BusLinkState } from '@maas/platform';
import { GATEWAY_CONFIG, GatewayConfig } from '../gateway.config';
import { CatalogueEntry, ModelCatalogue } from '../policy/model-catalogue';
import { KnownModel, RegistryReplica, ReplicaWorker } from '../policy/registry-replica';
import { GATEWAY_CLOCK, GatewayClock } from '../repositories/clock';
import { RegistryRepository } from '../repositories/registry.repository';

/** The replica the gauge reads at scrape time (one gateway per process; the latest started in a test). */
let scraped: RegistryReplica | undefined;

// Counted at scrape time: a heartbeat costs no gauge work, whatever the fleet's size.
new Gauge({
  name: 'maas_gateway_replica_workers',
  help: 'Workers in the gateway replica of the registry, by state',
  labelNames: ['state'],
  collect() {
    this.reset();
    if (!scraped) return;
    for (const [state, n] of Object.entries(scraped.byState())) if (n > 0) this.set({ state }, n);
  },
});

const SWEEP_MS = 250;
/** A catalogue model its vm-scaler has not re-announced for this long (it re-announces every 2 s) is no longer held for. */
const CATALOGUE_STALE_MS = 30_000;
/** Times the catalogue is asked for at start before relying on the announcements alone. */
const CATALOGUE_ASKS = 6;
/** While requests are held, their count is reported this often (and at once when a model's first one is held). */
const PENDING_REPORT_MS = 1000;
/** Asking router again: 250 ms, doubling to 2 s (after a NATS restart, router reconnects within a second or so). */
const SNAPSHOT_RETRY_MS = [250, 500, 1000, 2000];
/**
 * Worker events applied at once before the next wait for a later event-loop turn: when a whole fleet
 * re-announces at once (a NATS reconnect), the replica takes it this many at a time and requests
 * are served in between. At 1 Hz heartbeats one event in this many waits a turn (well under a ms).
 */
export const WORKER_EVENTS_PER_TURN = 128;

const enum WorkerEvent {
  Registered,
  Heartbeat,
  Draining,
  Deregistered,
}

/**
 * This gateway's replica of the worker registry: router's snapshot at start, then every worker
 * event as it is broadcast. Requests waiting for capacity are woken when a worker of their model
 * becomes ready. While NATS is down the replica holds the workers it last saw (they keep serving
 * over HTTP) and `/health` says "degraded: bus down, serving"; on reconnect it asks router again.
 */
@Injectable()
export class WorkerRegistryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly replica = new RegistryReplica();
  /** Told of every heartbeat applied, with its worker's id (routing notes its own load there then). */
  private readonly heartbeatListeners: ((workerId: string) => void)[] = [];
  private readonly catalogue = new ModelCatalogue(CATALOGUE_STALE_MS);
  private readonly waiters = new Map<string, Set<() => void>>();
  private sweepTimer?: NodeJS.Timeout;
  private snapshotTimer?: NodeJS.Timeout;
  private snapshotLoaded = false;
  private snapshotLoading = false;
  private snapshotFailures = 0;
  private unwatch?: () => void;
  /** Requests waiting for a worker, per model: this gateway's pending demand (an activator's count). */
  private readonly held = new Map<string, number>();
  private readonly gatewayId = randomUUID();
  private pendingTimer?: NodeJS.Timeout;
  private catalogueTimer?: NodeJS.Timeout;
  /** Worker events waiting for a later turn, in arrival order (`kinds[i]` says what `queued[i]` is), from `head` on. */
  private readonly kinds: WorkerEvent[] = [];
  private readonly queued: unknown[] = [];
  private head = 0;
  /** Events applied since the queue last drained: at WORKER_EVENTS_PER_TURN the next ones wait. */
  private applied = 0;
  private drainTimer?: NodeJS.Immediate;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(GATEWAY_CLOCK) private readonly clock: GatewayClock,
    private readonly registry: RegistryRepository,
    private readonly logger: Logger,
    /** Absent outside the platform module (a dispatch test): the bus then counts as always up. */
    @Optional() private readonly link?: BusLink,
  ) {}

  onApplicationBootstrap(): void {
    scraped = this.replica;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    this.unwatch = this.link?.onChange((state) => this.busChanged(state));
    this.link?.serveWithoutBus(() => {
      const { workers, ready } = this.replica.counts();
      return { serving: ready > 0, detail: { readyWorkers: ready, heldWorkers: workers } };
    });
    void this.loadSnapshot();
    void this.loadCatalogue();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweepTimer);
    clearTimeout(this.snapshotTimer);
    clearInterval(this.pendingTimer);
    clearTimeout(this.catalogueTimer);
    clearImmediate(this.drainTimer);
    this.unwatch?.();
    if (scraped === this.replica) scraped = undefined;
  }

  private busChanged(state: BusLinkState): void {
    const { workers, ready } = this.replica.counts();
    if (!state.connected) {
      this.logger.warn('bus down: holding the workers last seen, serving from them', { heldWorkers: workers, readyWorkers: ready });
      return;
    }
    this.logger.info('bus back: resynchronising the worker list with router', {
      heldWorkers: workers,
      readyWorkers: ready,
      graceMs: this.config.GATEWAY_WORKER_EXPIRY,
    });
    clearTimeout(this.snapshotTimer);
    this.snapshotFailures = 0;
    void this.loadSnapshot();
    clearTimeout(this.catalogueTimer);
    void this.loadCatalogue();
  }

  private async loadSnapshot(): Promise<void> {
    if (this.snapshotLoading) return;
    this.snapshotLoading = true;
    try {
      const snapshot = await this.registry.snapshot();
      const changes = this.replica.applySnapshot(snapshot, this.clock.now());
      this.snapshotLoaded = true;
      this.snapshotFailures = 0;
      this.logger.info('registry snapshot loaded', { workers: snapshot.workers.length, added: changes.length });
      for (const c of changes) if (c.becameReady) this.wake(c.worker);
    } catch (err) {
      const retryMs = SNAPSHOT_RETRY_MS[Math.min(this.snapshotFailures++, SNAPSHOT_RETRY_MS.length - 1)];
      this.logger.warn('router snapshot unavailable; relying on worker events and retrying', { error: (err as Error).message, retryMs });
      this.snapshotTimer = setTimeout(() => void this.loadSnapshot(), retryMs);
      this.snapshotTimer.unref();
    } finally {
      this.snapshotLoading = false;
    }
  }

  /**
   * Asks the vm-scaler for its catalogue, so catalogue models are listed and held for from the start,
   * a few times (no vm-scaler may run here: then only workers make models known); its announcements
   * every 2 s keep it current after that.
   */
  private async loadCatalogue(attempt = 0): Promise<void> {
    try {
      this.catalogued(await this.registry.catalogue());
    } catch (err) {
      if (attempt + 1 >= CATALOGUE_ASKS)
        return this.logger.info('no model catalogue from a vm-scaler yet; waiting for its announcements', {
          error: (err as Error).message,
        });
      this.catalogueTimer = setTimeout(
        () => void this.loadCatalogue(attempt + 1),
        SNAPSHOT_RETRY_MS[Math.min(attempt, SNAPSHOT_RETRY_MS.length - 1)],
      );
      this.catalogueTimer.unref();
    }
  }

  get ready(): boolean {
    return this.snapshotLoaded;
  }

  registered(msg: WorkerRegistered): void {
    this.take(WorkerEvent.Registered, msg);
  }

  heartbeat(msg: WorkerHeartbeat): void {
    this.take(WorkerEvent.Heartbeat, msg);
  }

  /** Calls `listener` with the worker's id each time one of its heartbeats is applied to the replica. */
  onHeartbeat(listener: (workerId: string) => void): void {
    this.heartbeatListeners.push(listener);
  }

  draining(msg: WorkerDraining): void {
    this.take(WorkerEvent.Draining, msg);
  }

  deregistered(msg: WorkerDeregistered): void {
    this.take(WorkerEvent.Deregistered, msg);
  }

  /** Worker events not applied yet (a storm being taken a turn at a time). */
  get queuedEvents(): number {
    return this.queued.length - this.head;
  }

  /** Applies the event now, or after those waiting when the queue has some or this turn's share is used. */
  private take(kind: WorkerEvent, msg: unknown): void {
    if (this.head === this.queued.length && this.applied < WORKER_EVENTS_PER_TURN) {
      this.applied++;
      this.apply(kind, msg);
      return;
    }
    this.kinds.push(kind);
    this.queued.push(msg);
    this.drainTimer ??= setImmediate(this.drain);
  }

  /** The next WORKER_EVENTS_PER_TURN waiting events, then a yield to the event loop if more wait. */
  private readonly drain = (): void => {
    this.drainTimer = undefined;
    const end = Math.min(this.queued.length, this.head + WORKER_EVENTS_PER_TURN);
    this.applied = end - this.head;
    while (this.head < end) {
      const i = this.head++;
      const msg = this.queued[i];
      this.queued[i] = undefined;
      this.apply(this.kinds[i], msg);
    }
    if (this.head < this.queued.length) this.drainTimer = setImmediate(this.drain);
    else {
      this.kinds.length = 0;
      this.queued.length = 0;
      this.head = 0;
    }
  };

  private apply(kind: WorkerEvent, msg: unknown): void {
    const now = this.clock.now();
    switch (kind) {
      case WorkerEvent.Heartbeat: {
        const beat = msg as WorkerHeartbeat;
        if (this.replica.heartbeat(beat, now)) this.wake(this.replica.get(beat.workerId)!);
        for (const listener of this.heartbeatListeners) listener(beat.workerId);
        return;
      }
      case WorkerEvent.Registered: {
        const reg = msg as WorkerRegistered;
        const existed = this.replica.get(reg.workerId) !== undefined;
        const change = this.replica.register(reg, now);
        if (!existed)
          this.logger.info('worker joined', {
            workerId: reg.workerId,
            state: change.worker.state,
            models: reg.models.map((m) => m.id),
            url: reg.url,
          });
        if (change.becameReady) this.wake(change.worker);
        return;
      }
      case WorkerEvent.Draining: {
        const { workerId } = msg as WorkerDraining;
        if (this.replica.draining(workerId, now)) this.logger.info('worker draining', { workerId });
        return;
      }
      case WorkerEvent.Deregistered: {
        const { workerId, reason } = msg as WorkerDeregistered;
        if (this.replica.remove(workerId, now)) this.logger.info('worker left', { workerId, reason });
        return;
      }
    }
  }

  /** A vm-scaler's models: known (listed, requests held, batches accepted) even while no worker serves them. */
  catalogued(msg: ModelCataloguePublished): void {
    const before = this.catalogue.models(this.clock.now()).length;
    this.catalogue.published(msg, this.clock.now());
    const after = this.catalogue.models(this.clock.now()).length;
    if (after !== before) this.logger.info('model catalogue updated', { models: msg.models.map((m) => m.model) });
  }

  catalogueEntry(model: string): CatalogueEntry | undefined {
    return this.catalogue.get(model, this.clock.now());
  }

  catalogueModels(): string[] {
    return this.catalogue.models(this.clock.now());
  }

  private sweep(): void {
    for (const w of this.replica.expire(this.clock.now(), this.config.GATEWAY_WORKER_EXPIRY, this.link?.state)) {
      this.logger.warn('worker expired locally (no heartbeat)', { workerId: w.id, silentMs: this.clock.now() - w.lastSeenAt });
    }
  }

  /** The worker can take requests now and could not before: requests waiting for its models retry. */
  private wake(worker: ReplicaWorker): void {
    if (this.waiters.size === 0) return;
    for (const model of worker.models.keys()) {
      const set = this.waiters.get(model);
      if (!set) continue;
      this.waiters.delete(model);
      for (const wake of set) wake();
    }
  }

  /** Resolves when a worker of `model` becomes ready, after `timeoutMs`, or when `cancel` is called. */
  waitForCapacity(model: string, timeoutMs: number): { done: Promise<void>; cancel: () => void } {
    let cancel = () => undefined as void;
    const done = new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.get(model)?.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, timeoutMs));
      let set = this.waiters.get(model);
      if (!set) this.waiters.set(model, (set = new Set()));
      set.add(wake);
      cancel = wake;
    });
    return { done, cancel };
  }

  /**
   * A request waits for a worker of `model`: counted as pending demand until the returned release is
   * called. A model's first held request is reported at once (so the vm-scaler starts capacity from
   * zero without waiting for an aggregate), then the counts every second, and a last report at zero.
   */
  hold(model: string): () => void {
    const before = this.held.get(model) ?? 0;
    this.held.set(model, before + 1);
    if (before === 0) this.reportPending();
    if (!this.pendingTimer) {
      this.pendingTimer = setInterval(() => this.reportPending(), PENDING_REPORT_MS);
      this.pendingTimer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(model) ?? 1) - 1;
      if (left > 0) this.held.set(model, left);
      else this.held.delete(model);
    };
  }

  heldFor(model: string): number {
    return this.held.get(model) ?? 0;
  }

  private reportPending(): void {
    const report: ModelDemandPending = {
      gatewayId: this.gatewayId,
      reportedAt: new Date(this.clock.now()).toISOString(),
      models: [...this.held].map(([model, held]) => ({ model, held })),
    };
    if (this.held.size === 0) {
      clearInterval(this.pendingTimer);
      this.pendingTimer = undefined;
    }
    this.registry.reportPending(report).catch((err) => this.logger.debug('pending demand not reported', { error: (err as Error).message }));
  }

  workersFor(model: string): readonly ReplicaWorker[] {
    return this.replica.workersFor(model);
  }

  /** A model a worker served lately (GATEWAY_MODEL_MEMORY), or a catalogue model: its requests are held, not refused. */
  knownModel(model: string): KnownModel | undefined {
    const now = this.clock.now();
    const served = this.replica.knownModel(model, now, this.config.GATEWAY_MODEL_MEMORY);
    if (served || !this.catalogue.get(model, now)) return served;
    // what its workers last said (capabilities) when one ever served it here; unknown before
    return this.replica.knownModel(model, now, Infinity) ?? this.catalogue.known(model, now);
  }

  worker(id: string): ReplicaWorker | undefined {
    return this.replica.get(id);
  }

  all(): readonly ReplicaWorker[] {
    return this.replica.all();
  }

  /** Models some worker lists now (in any state). */
  servedModels(): IterableIterator<string> {
    return this.replica.servedModels();
  }
}
