import { Inject, Injectable } from '@nestjs/common';
import type { ScalingAction } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { Clock, CLOCK } from '@maas/platform';
import type { ScaleDecision } from '@maas/scaling';
import { CAPACITY_PROVIDER, ScalerCapacityProvider } from '../repositories/providers/scaler-provider';
import { ScalingEventsRepository } from '../repositories/scaling-events.repository';

type Action = ScalingAction['action'];

/**
 * Carries a decision out through the provider: starts, then drains, then stops, each announced as
 * `scaling.action-started` and closed by `-completed` (the provider accepted it; readiness and
 * ends arrive as node state changes) or `-failed` with the provider's error.
 */
@Injectable()
export class CapacityActionsService {
  constructor(
    @Inject(CAPACITY_PROVIDER) private readonly provider: ScalerCapacityProvider,
    private readonly events: ScalingEventsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async apply(decisionId: string, decision: ScaleDecision): Promise<void> {
    let n = 0;
    const next = (action: Action) => `${decisionId}/${action}-${(n += 1)}`;
    for (const s of decision.capacity.starts) {
      for (let i = 0; i < s.count; i += 1) {
        // the node id is known only once the provider accepted the start
        await this.run(
          decisionId,
          next('start-vm'),
          'start-vm',
          `${s.vmType}:${s.model}`,
          async () => (await this.provider.start({ vmType: s.vmType, model: s.model, reason: s.reason })).id,
        );
      }
    }
    for (const d of decision.capacity.drains) {
      await this.run(decisionId, next('drain-vm'), 'drain-vm', d.vmId, async () => (await this.provider.drain(d.vmId, d.reason)).id);
    }
    for (const s of decision.capacity.stops) {
      await this.run(decisionId, next('stop-vm'), 'stop-vm', s.vmId, async () => (await this.provider.stop(s.vmId, s.reason)).id);
    }
  }

  /** Stage 1, where the provider carries it out itself: the replicas of every model with a valid decision. */
  async replicas(decision: ScaleDecision): Promise<void> {
    if (!this.provider.scaleReplicas) return;
    const targets: Record<string, number> = {};
    for (const [model, r] of Object.entries(decision.replicas)) if (r.valid) targets[model] = r.desiredReplicas;
    await this.provider.scaleReplicas(targets).catch((err: Error) => this.logger.warn('replicas not set', { error: err.message }));
  }

  private async run(decisionId: string, actionId: string, action: Action, target: string, act: () => Promise<string>): Promise<void> {
    const event = (phase: ScalingAction['phase'], on: string, error: string | null = null): ScalingAction => ({
      actionId,
      decisionId,
      provider: this.provider.kind,
      action,
      target: on,
      phase,
      error,
      at: new Date(this.clock.now()).toISOString(),
    });
    await this.persist(event('started', target));
    try {
      const vmId = await act();
      this.logger.info('scaling action done', { actionId, action, target: vmId });
      await this.persist(event('completed', vmId));
    } catch (err) {
      const message = (err as Error).message;
      this.logger.warn('scaling action failed', { actionId, action, target, error: message });
      await this.persist(event('failed', target, message));
    }
  }

  private async persist(a: ScalingAction): Promise<void> {
    await this.events
      .action(a)
      .catch((err: Error) =>
        this.logger.error('could not persist the scaling action', { actionId: a.actionId, phase: a.phase, error: err.message }),
      );
  }
}
