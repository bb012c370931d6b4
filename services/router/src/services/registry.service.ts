import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Gauge } from 'prom-client';
import type { RegistrySnapshot, WorkerDraining, WorkerHeartbeat, WorkerRegistered } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { BusLink, Clock, CLOCK } from '@maas/platform';
import { RegisteredWorker, RegistryChange, WorkerRegistry } from '../policy/worker-registry';
import { WorkerEventsRepository } from '../repositories/worker-events.repository';
import { WorkerRepository } from '../repositories/worker.repository';
import { ROUTER_CONFIG, RouterConfig } from '../router.config';

/** The registry the gauge reads at scrape time (one router per process). */
let scraped: WorkerRegistry | undefined;

// Counted at scrape time: a registration or heartbeat costs no gauge work, whatever the fleet's size.
new Gauge({
  name: 'maas_router_workers',
  help: 'Registered workers by state',
  labelNames: ['state'],
  collect() {
    this.reset();
    if (!scraped) return;
    for (const [state, n] of Object.entries(scraped.byState())) if (n > 0) this.set({ state }, n);
  },
});

type Write =
  | { readonly kind: 'upsert'; readonly worker: RegisteredWorker }
  | { readonly kind: 'left'; readonly reason: string; readonly at: number; readonly lastSeenAt: number };

/** The authoritative registry of model workers: membership, liveness, expiry. */
@Injectable()
export class RegistryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly registry: WorkerRegistry;
  private readonly sweepEveryMs: number;
  private timer?: NodeJS.Timeout;
  /** Membership writes not yet in PostgreSQL, the latest per worker: written together, one flush at a time. */
  private pending = new Map<string, Write>();
  private flushing?: Promise<void>;

  constructor(
    @Inject(ROUTER_CONFIG) config: RouterConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly events: WorkerEventsRepository,
    private readonly repository: WorkerRepository,
    private readonly logger: Logger,
    private readonly link: BusLink,
  ) {
    this.registry = new WorkerRegistry(config.WORKER_EXPIRY_MS);
    this.sweepEveryMs = config.EXPIRY_SWEEP_MS;
  }

  onApplicationBootstrap(): void {
    scraped = this.registry;
    this.timer = setInterval(() => void this.sweep(), this.sweepEveryMs);
    this.timer.unref();
    this.link.onChange((state) => {
      const held = this.registry.size;
      if (state.connected) this.logger.info('bus back: workers get a full expiry window to re-announce', { heldWorkers: held });
      else this.logger.warn('bus down: no worker expires until it is back', { heldWorkers: held });
    });
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    if (scraped === this.registry) scraped = undefined;
    await this.flushing;
  }

  registered(msg: WorkerRegistered): Promise<void> {
    const change = this.registry.register(msg, this.clock.now());
    if (change.type === 'added')
      this.logger.info('worker registered', { workerId: msg.workerId, models: msg.models.map((m) => m.id), url: msg.url });
    return this.write(msg.workerId, { kind: 'upsert', worker: change.worker });
  }

  heartbeat(msg: WorkerHeartbeat): void {
    if (!this.registry.heartbeat(msg, this.clock.now())) {
      this.logger.debug('heartbeat from unregistered worker', { workerId: msg.workerId });
    }
  }

  async draining(msg: WorkerDraining): Promise<void> {
    const worker = this.registry.draining(msg.workerId, this.clock.now());
    if (!worker) return;
    this.logger.info('worker draining', { workerId: msg.workerId, inFlight: msg.inFlight });
    await this.write(msg.workerId, { kind: 'upsert', worker });
  }

  async deregistered(workerId: string, reason: 'shutdown' | 'expired' | 'replaced'): Promise<void> {
    const change = this.registry.remove(workerId, reason);
    if (change) await this.recordRemoval(change, false);
  }

  snapshot(model?: string): RegistrySnapshot {
    const now = new Date(this.clock.now()).toISOString();
    return {
      takenAt: now,
      workers: this.registry.list(model).map((w) => ({
        registration: w.registration,
        state: w.state,
        ...(w.load ? { load: w.load } : {}),
        lastSeenAt: new Date(w.lastSeenAt).toISOString(),
      })),
    };
  }

  /** Expires silent workers and tells every gateway (not while the router itself cannot hear them). */
  async sweep(): Promise<void> {
    await Promise.all(this.registry.expire(this.clock.now(), this.link.state).map((change) => this.recordRemoval(change, true)));
  }

  private async recordRemoval(change: RegistryChange, announce: boolean): Promise<void> {
    if (change.type !== 'removed') return;
    const now = this.clock.now();
    this.logger.info('worker removed', { workerId: change.workerId, reason: change.reason, silentForMs: now - change.worker.lastSeenAt });
    if (announce) this.events.deregistered({ workerId: change.workerId, reason: change.reason, sentAt: new Date(now).toISOString() });
    await this.write(change.workerId, { kind: 'left', reason: change.reason, at: now, lastSeenAt: change.worker.lastSeenAt });
  }

  /**
   * Queues a worker's membership write; resolves once it is in PostgreSQL. Writes that arrive while
   * one flush runs go together in the next, so a storm of re-announcements costs a few statements,
   * and a worker's later write replaces its earlier one (its latest state is what is stored).
   */
  private write(workerId: string, write: Write): Promise<void> {
    this.pending.set(workerId, write);
    return this.flush();
  }

  private flush(): Promise<void> {
    this.flushing ??= (async () => {
      // let the writes of the messages already received join this flush
      await new Promise((r) => setImmediate(r));
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        const upserts = [...batch.values()].flatMap((w) => (w.kind === 'upsert' ? [w.worker] : []));
        await this.repository
          .upsert(upserts)
          .catch((err: Error) =>
            this.logger.error('could not store worker registrations', { workers: upserts.length, error: err.message }),
          );
        for (const [workerId, w] of batch) {
          if (w.kind !== 'left') continue;
          await this.repository
            .markLeft(workerId, w.reason, w.at, w.lastSeenAt)
            .catch((err: Error) => this.logger.error('could not record a worker leaving', { workerId, error: err.message }));
        }
      }
    })().finally(() => {
      this.flushing = undefined;
      if (this.pending.size > 0) void this.flush();
    });
    return this.flushing;
  }
}
