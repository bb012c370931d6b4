import { randomBytes } from 'node:crypto';
import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Logger } from '@maas/logging';
import { Clock, CLOCK } from '@maas/platform';
import { decide, DecisionInput, initialScalingState, ScaleDecision, ScalingSpec, ScalingState } from '@maas/scaling';
import { actsOn, decisionId, RecordedInputs, scalingDecided } from '../policy/decision-record';
import { buildObservation } from '../policy/observation';
import { CAPACITY_PROVIDER, ScalerCapacityProvider } from '../repositories/providers/scaler-provider';
import { ScalingDecisionRepository } from '../repositories/scaling-decision.repository';
import { ScalingEventsRepository } from '../repositories/scaling-events.repository';
import { VM_SCALER_CONFIG, VmScalerConfig } from '../vm-scaler.config';
import { CapacityActionsService } from './capacity-actions.service';
import { ScalingInputsService } from './scaling-inputs.service';
import { VmInventoryService } from './vm-inventory.service';
import { WorkerFleetService } from './worker-fleet.service';

export const SCALING_SPEC = Symbol('SCALING_SPEC');

export interface TickResult {
  readonly decisionId: string;
  readonly decision: ScaleDecision;
}

/**
 * The scaling loop: every tick, observe (latest aggregates, forecasts, the provider's nodes with
 * their workers' in-flight counts and the actions still queued), decide, record the decision with
 * every input and reason (PostgreSQL and the SCALING stream, written and published off the tick),
 * then hand its actions to CapacityActionsService, which carries them out off the tick: a tick never
 * waits on a cloud API, nor on PostgreSQL or JetStream.
 */
@Injectable()
export class ScalingLoopService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private state: ScalingState = initialScalingState;
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<TickResult | undefined>;
  private unlisten?: () => void;
  private lastPrune = 0;

  constructor(
    @Inject(VM_SCALER_CONFIG) private readonly config: VmScalerConfig,
    @Inject(SCALING_SPEC) private readonly spec: ScalingSpec,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CAPACITY_PROVIDER) private readonly provider: ScalerCapacityProvider,
    private readonly inputs: ScalingInputsService,
    private readonly fleet: WorkerFleetService,
    private readonly inventory: VmInventoryService,
    private readonly actions: CapacityActionsService,
    private readonly decisions: ScalingDecisionRepository,
    private readonly events: ScalingEventsRepository,
    private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.restoreState();
    await this.provider.open();
    this.timer = setInterval(() => void this.tick(), this.config.SCALING_TICK_MS);
    this.timer.unref();
    // A request held for a model with no worker decides now, not at the next tick (scale from zero).
    this.unlisten = this.inputs.onPendingDemand((model) => {
      this.logger.info('requests held for a model: deciding now', { model, held: this.inputs.pending(model) });
      void (this.ticking ?? Promise.resolve()).then(() => this.tick());
    });
    this.logger.info('scaling loop started', {
      provider: this.provider.kind,
      tickMs: this.config.SCALING_TICK_MS,
      acting: this.config.SCALING_ACT,
      models: Object.keys(this.spec.models),
      vmTypes: this.spec.capacity.vmTypes.map((t) => t.name),
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.unlisten?.();
    await this.ticking;
    await this.actions.settled();
    await this.provider.close();
    await this.inventory.settled();
    await this.events.settled();
  }

  /** One decision, unless the previous one is still being taken (then that one). */
  tick(): Promise<TickResult | undefined> {
    this.ticking ??= this.decideAndAct()
      .catch((err: Error) => {
        this.logger.error('scaling tick failed', { error: err.message });
        return undefined;
      })
      .finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private async decideAndAct(): Promise<TickResult> {
    const nodes = await this.provider.list();
    const aggregates = this.inputs.aggregates();
    const forecasts = this.inputs.latestForecasts();
    const nowMs = this.clock.now(); // the loop's one clock read: everything below is a function of it
    const now = nowMs / 1000;
    // actions of earlier decisions not yet accepted by the provider count as done
    const vms = this.actions.overlay(nodes, now);
    const observation = buildObservation({
      spec: this.spec,
      aggregates,
      forecasts,
      vms,
      inFlight: (vmId) => this.fleet.inFlight(vmId),
      now,
      maxAgeSeconds: this.config.SCALING_METRIC_MAX_AGE_MS / 1000,
      pending: (model) => this.inputs.pending(model, nowMs),
    });
    const previous = this.state;
    const { decision, nextState } = decide(this.spec, previous, observation, now);
    this.state = nextState;

    const id = decisionId(nowMs, randomBytes(2).toString('hex'));
    const inputs: RecordedInputs = {
      spec: this.spec,
      state: previous,
      observation,
      now,
      sources: {
        provider: this.provider.kind,
        aggregates: Object.fromEntries(aggregates.filter((a) => this.spec.models[a.model]).map((a) => [a.model, a.intervalStart])),
        forecasts: Object.fromEntries(
          forecasts
            .filter((f) => this.spec.models[f.model])
            .map((f) => [f.model, { forecastId: f.forecastId, method: f.method, issuedAt: f.issuedAt }]),
        ),
      },
    };
    const record = scalingDecided(id, nowMs, inputs, decision);
    // stored and published off the tick, in one transaction with whatever else waits to be written
    void this.events
      .decided(record)
      .catch((err: Error) => this.logger.error('could not store the decision', { decisionId: id, error: err.message }));
    if (this.config.SCALING_ACT) await this.actions.replicas(decision);
    if (actsOn(decision)) {
      this.logger.info('scaling decision', {
        decisionId: id,
        starts: decision.capacity.starts.map((s) => `${s.count} × ${s.vmType} for ${s.model}`),
        drains: decision.capacity.drains.map((d) => d.vmId),
        stops: decision.capacity.stops.map((s) => s.vmId),
        reasons: record.reasons,
      });
      if (this.config.SCALING_ACT) this.actions.apply(id, decision);
    }
    if (nowMs - this.lastPrune > 3_600_000) {
      this.lastPrune = nowMs;
      void this.decisions
        .prune(new Date(nowMs - this.config.SCALING_DECISION_RETENTION_MS))
        .catch((err: Error) => this.logger.warn('could not prune old decisions', { error: err.message }));
    }
    return { decisionId: id, decision };
  }

  /** Carries the policy's windows over a restart: the last recorded decision re-run gives its next state. */
  private async restoreState(): Promise<void> {
    try {
      const last = await this.decisions.latest();
      const input = last?.inputs as Partial<DecisionInput> | undefined;
      if (!input?.spec || !input.state || !input.observation || typeof input.now !== 'number') return;
      this.state = decide(input.spec, input.state, input.observation, input.now).nextState;
      this.logger.info('scaling state restored', { from: last!.decisionId });
    } catch (err) {
      this.logger.warn('could not restore the scaling state; starting afresh', { error: (err as Error).message });
    }
  }
}
