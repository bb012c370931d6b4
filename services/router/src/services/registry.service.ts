import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { RegistrySnapshot, WorkerDraining, WorkerHeartbeat, WorkerRegistered } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { MessageBus } from '@maas/nats';
import { BusLink, Clock, CLOCK } from '@maas/platform';
import { WorkerRepository } from '../repositories/worker.repository';
import { RegistryChange, WorkerRegistry } from '../policy/worker-registry';
import { ROUTER_CONFIG, RouterConfig } from '../router.config';
import { Gauge } from 'prom-client';

const workersGauge = new Gauge({ name: 'maas_router_workers', help: 'Registered workers by state', labelNames: ['state'] });

/** The authoritative registry of model workers: membership, liveness, expiry. */
@Injectable()
export class RegistryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly registry: WorkerRegistry;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(ROUTER_CONFIG) config: RouterConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly bus: MessageBus,
    private readonly repository: WorkerRepository,
    private readonly logger: Logger,
    private readonly link: BusLink,
  ) {
    this.registry = new WorkerRegistry(config.WORKER_EXPIRY_MS);
    this.sweepEveryMs = config.EXPIRY_SWEEP_MS;
  }

  private readonly sweepEveryMs: number;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.sweepEveryMs);
    this.timer.unref();
    this.link.onChange((state) => {
      const held = this.registry.list().length;
      if (state.connected) this.logger.info('bus back: workers get a full expiry window to re-announce', { heldWorkers: held });
      else this.logger.warn('bus down: no worker expires until it is back', { heldWorkers: held });
    });
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async registered(msg: WorkerRegistered): Promise<void> {
    const change = this.registry.register(msg, this.clock.now());
    if (change.type === 'added')
      this.logger.info('worker registered', { workerId: msg.workerId, models: msg.models.map((m) => m.id), url: msg.url });
    this.updateGauge();
    await this.repository.upsert(change.worker);
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
    this.updateGauge();
    await this.repository.upsert(worker);
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
    for (const change of this.registry.expire(this.clock.now(), this.link.state)) await this.recordRemoval(change, true);
  }

  private async recordRemoval(change: RegistryChange, announce: boolean): Promise<void> {
    if (change.type !== 'removed') return;
    const now = this.clock.now();
    this.logger.info('worker removed', { workerId: change.workerId, reason: change.reason, silentForMs: now - change.worker.lastSeenAt });
    if (announce) {
      this.bus.publish('worker.deregistered', { workerId: change.workerId, reason: change.reason, sentAt: new Date(now).toISOString() });
    }
    this.updateGauge();
    await this.repository.markLeft(change.workerId, change.reason, now, change.worker.lastSeenAt);
  }

  private updateGauge(): void {
    workersGauge.reset();
    for (const w of this.registry.list()) workersGauge.inc({ state: w.state });
  }
}
