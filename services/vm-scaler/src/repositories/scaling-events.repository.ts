import { Injectable } from '@nestjs/common';
import type { ScalingAction, ScalingDecided } from '@maas/contracts';
import { MessageBus } from '@maas/nats';
import type { CapacityEvent } from '@maas/scaling';

/** Decisions, actions and node state changes on the JetStream SCALING stream (replayable). */
@Injectable()
export class ScalingEventsRepository {
  constructor(private readonly bus: MessageBus) {}

  decided(d: ScalingDecided): Promise<void> {
    return this.bus.persist('scaling.decided', d, d.decisionId);
  }

  action(a: ScalingAction): Promise<void> {
    const name = a.phase === 'started' ? 'scaling.action-started' : a.phase === 'completed' ? 'scaling.action-completed' : 'scaling.action-failed';
    return this.bus.persist(name, a, `${a.actionId}/${a.phase}`);
  }

  vmChanged(e: CapacityEvent): Promise<void> {
    const at = new Date(e.at * 1000).toISOString();
    return this.bus.persist(
      'vm.state-changed',
      { vmId: e.vmId, provider: e.provider, vmType: e.vmType, model: e.model, from: e.from, to: e.to, reason: e.reason, at },
      `${e.vmId}/${e.from}/${e.to}/${at}`,
    );
  }
}
