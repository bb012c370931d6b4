import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { Logger } from '@maas/logging';
import type { CapacityEvent } from '@maas/scaling';
import { CAPACITY_PROVIDER, ScalerCapacityProvider } from '../repositories/providers/scaler-provider';
import { ScalingEventsRepository } from '../repositories/scaling-events.repository';
import { VmRepository } from '../repositories/vm.repository';
import { WorkerFleetService } from './worker-fleet.service';

/** Every state change of a node, in order: `vm.state-changed` on the stream and the `vms` row. */
@Injectable()
export class VmInventoryService implements OnModuleInit, OnModuleDestroy {
  private chain: Promise<void> = Promise.resolve();
  private queued: CapacityEvent[] = [];
  private unsubscribe?: () => void;

  constructor(
    @Inject(CAPACITY_PROVIDER) private readonly provider: ScalerCapacityProvider,
    private readonly events: ScalingEventsRepository,
    private readonly vms: VmRepository,
    private readonly fleet: WorkerFleetService,
    private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    // subscribed before the provider opens, so adopted nodes are recorded too
    this.unsubscribe = this.provider.subscribe((e) => this.changed(e));
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  /** Resolves once every change so far is recorded. */
  settled(): Promise<void> {
    return this.chain;
  }

  private changed(e: CapacityEvent): void {
    this.logger.info('node state changed', {
      vmId: e.vmId,
      provider: e.provider,
      vmType: e.vmType,
      model: e.model,
      from: e.from,
      to: e.to,
      reason: e.reason,
    });
    if (e.to === 'stopped' || e.to === 'failed') this.fleet.forget(e.vmId);
    this.queued.push(e);
    if (this.queued.length === 1) this.chain = this.chain.then(() => this.record());
  }

  /** Records every change queued by now: their events in one write, then the rows in order. */
  private async record(): Promise<void> {
    const batch = this.queued;
    this.queued = [];
    await this.events
      .vmsChanged(batch)
      .catch((err: Error) => this.logger.error('could not persist vm.state-changed', { changes: batch.length, error: err.message }));
    for (const e of batch) {
      await this.vms
        .changed(e)
        .catch((err: Error) => this.logger.error('could not record the node', { vmId: e.vmId, to: e.to, error: err.message }));
    }
  }
}
