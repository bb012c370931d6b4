import { Inject, Injectable } from '@nestjs/common';
import type { ScalingAction } from '@maas/contracts';
import { Logger } from '@maas/logging';
import { Clock, CLOCK } from '@maas/platform';
import type { ScaleDecision, VmRecord } from '@maas/scaling';
import { CAPACITY_PROVIDER, ScalerCapacityProvider } from '../repositories/providers/scaler-provider';
import { ScalingEventsRepository } from '../repositories/scaling-events.repository';

type Action = ScalingAction['action'];

/** Provider calls at once: enough to start a fleet in a few rounds, few enough for a cloud API's rate limit. */
export const ACTION_CONCURRENCY = 8;

/** A start not yet accepted by the provider is a node under this id until it is. */
const PENDING = 'pending:';

interface QueuedAction {
  readonly actionId: string;
  readonly decisionId: string;
  readonly action: Action;
  /** A VM id, a pending start's id (`pending:<action id>`), or `vmType:model` for a start. */
  readonly target: string;
  readonly start?: {
    readonly vmType: string;
    readonly model: string;
    readonly reason?: string;
    readonly pool?: 'batch';
    readonly queuedAt: number;
  };
  readonly reason?: string;
  /** The action on the same node queued before this one: this one runs after it. */
  readonly after?: QueuedAction;
  /** Resolves with the VM id the provider acted on; undefined when the action failed or was withdrawn. */
  done: Promise<string | undefined>;
  begin: () => void;
  running: boolean;
  withdrawn?: string;
}

/**
 * Carries decisions out through the provider, off the scaling tick: every start, drain and stop is
 * queued and run with at most ACTION_CONCURRENCY provider calls at once, each announced as
 * `scaling.action-started` when it runs and closed by `-completed` (the provider accepted it;
 * readiness and ends arrive as node state changes) or `-failed` with the provider's error. Until
 * the provider has accepted them, queued actions show in what the next tick observes (`overlay`):
 * a start as a `requested` node, a drain or stop as the node already in that state, so a decision
 * taken meanwhile neither starts the same capacity twice nor releases a node twice.
 */
@Injectable()
export class CapacityActionsService {
  private readonly queue: QueuedAction[] = [];
  private readonly pending = new Map<string, QueuedAction>();
  /** The latest action on each VM (or pending start): the next one on it waits for it. */
  private readonly lastOn = new Map<string, QueuedAction>();
  private running = 0;
  private idle: Promise<void> = Promise.resolve();
  private becameIdle?: () => void;

  constructor(
    @Inject(CAPACITY_PROVIDER) private readonly provider: ScalerCapacityProvider,
    private readonly events: ScalingEventsRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Queues the decision's starts, then drains, then stops; returns at once (`settled` waits for them). */
  apply(decisionId: string, decision: ScaleDecision): void {
    let n = 0;
    const next = (action: Action) => `${decisionId}/${action}-${(n += 1)}`;
    const now = this.clock.now() / 1000;
    for (const s of decision.capacity.starts) {
      for (let i = 0; i < s.count; i += 1) {
        this.enqueue(decisionId, next('start-vm'), 'start-vm', `${s.vmType}:${s.model}`, {
          start: { vmType: s.vmType, model: s.model, reason: s.reason, ...(s.pool ? { pool: s.pool } : {}), queuedAt: now },
        });
      }
    }
    for (const d of decision.capacity.drains) this.enqueue(decisionId, next('drain-vm'), 'drain-vm', d.vmId, { reason: d.reason });
    for (const s of decision.capacity.stops) this.enqueue(decisionId, next('stop-vm'), 'stop-vm', s.vmId, { reason: s.reason });
  }

  /** Resolves once every queued action has run. */
  settled(): Promise<void> {
    return this.idle;
  }

  /**
   * The provider's nodes as the next decision should see them: queued starts as `requested` nodes
   * (id `pending:<action id>`), nodes with a queued drain or stop already in that state since `now`.
   */
  overlay(nodes: readonly VmRecord[], now: number): VmRecord[] {
    if (this.pending.size === 0) return [...nodes];
    const out = nodes.map((node) => {
      const last = this.lastOn.get(node.id);
      if (!last || !this.pending.has(last.actionId)) return node;
      const state = last.action === 'drain-vm' ? 'draining' : last.action === 'stop-vm' ? 'stopping' : node.state;
      return state === node.state ? node : { ...node, state, stateSince: now };
    });
    for (const a of this.pending.values()) {
      if (!a.start || a.withdrawn) continue;
      const id = PENDING + a.actionId;
      const later = this.lastOn.get(id);
      const state = later && later !== a && this.pending.has(later.actionId) ? 'stopping' : 'requested';
      out.push({
        id,
        provider: this.provider.kind,
        vmType: a.start.vmType,
        model: a.start.model,
        state,
        requestedAt: a.start.queuedAt,
        stateSince: a.start.queuedAt,
        readyAt: null,
        endedAt: null,
        reason: a.start.reason ?? null,
        ...(a.start.pool ? { pool: a.start.pool } : {}),
      });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Stage 1, where the provider carries it out itself: the replicas of every model with a valid decision. */
  async replicas(decision: ScaleDecision): Promise<void> {
    if (!this.provider.scaleReplicas) return;
    const targets: Record<string, number> = {};
    for (const [model, r] of Object.entries(decision.replicas)) if (r.valid) targets[model] = r.desiredReplicas;
    await this.provider.scaleReplicas(targets).catch((err: Error) => this.logger.warn('replicas not set', { error: err.message }));
  }

  private enqueue(
    decisionId: string,
    actionId: string,
    action: Action,
    target: string,
    extra: Pick<QueuedAction, 'start' | 'reason'>,
  ): void {
    const key = extra.start ? PENDING + actionId : target;
    const after = this.lastOn.get(key);
    // a start still waiting for its turn is withdrawn by a stop: nothing was asked of the provider yet
    if (action === 'stop-vm' && after?.start && !after.running) after.withdrawn = `stopped by ${actionId} before it ran`;
    let begin!: () => void;
    const turn = new Promise<void>((r) => (begin = r));
    const a: QueuedAction = {
      actionId,
      decisionId,
      action,
      target,
      ...extra,
      after,
      begin,
      running: false,
      done: Promise.resolve(undefined),
    };
    a.done = turn.then(async () => this.run(a, target.startsWith(PENDING) ? await after?.done : target));
    this.lastOn.set(key, a);
    this.pending.set(actionId, a);
    if (this.running === 0 && this.queue.length === 0) this.idle = new Promise((r) => (this.becameIdle = r));
    this.queue.push(a);
    this.pump();
  }

  /** Starts queued actions, first come first served, while fewer than ACTION_CONCURRENCY run. */
  private pump(): void {
    while (this.running < ACTION_CONCURRENCY && this.queue.length > 0) {
      const a = this.queue.shift()!;
      this.running += 1;
      a.running = true;
      a.begin();
      void a.done.finally(() => {
        this.running -= 1;
        this.pending.delete(a.actionId);
        const key = a.start ? PENDING + a.actionId : a.target;
        if (this.lastOn.get(key) === a) this.lastOn.delete(key);
        this.pump();
        if (this.running === 0 && this.queue.length === 0) this.becameIdle?.();
      });
    }
  }

  /** Runs one action; `vmId` is the VM a drain or stop acts on (undefined: the start it followed did not happen). */
  private async run(a: QueuedAction, vmId: string | undefined): Promise<string | undefined> {
    const event = (phase: ScalingAction['phase'], on: string, error: string | null = null): ScalingAction => ({
      actionId: a.actionId,
      decisionId: a.decisionId,
      provider: this.provider.kind,
      action: a.action,
      target: on,
      phase,
      error,
      at: new Date(this.clock.now()).toISOString(),
    });
    await this.persist(event('started', a.target));
    try {
      let acted: string;
      if (a.withdrawn) throw new Error(`withdrawn: ${a.withdrawn}`);
      if (a.start) {
        const { vmType, model, reason, pool } = a.start;
        acted = (await this.provider.start({ vmType, model, reason, ...(pool ? { pool } : {}) })).id;
      } else if (vmId === undefined && a.after?.withdrawn)
        acted = a.target; // the start it stops never ran: released already
      else if (vmId === undefined) throw new Error(`${a.target} never started: nothing to ${a.action === 'drain-vm' ? 'drain' : 'stop'}`);
      else if (a.action === 'drain-vm') acted = (await this.provider.drain(vmId, a.reason)).id;
      else acted = (await this.provider.stop(vmId, a.reason)).id;
      // the provider's own nodes show it from now on: counted twice, a start would look like spare capacity
      this.pending.delete(a.actionId);
      this.logger.info('scaling action done', { actionId: a.actionId, action: a.action, target: acted });
      await this.persist(event('completed', acted));
      return acted;
    } catch (err) {
      const message = (err as Error).message;
      this.pending.delete(a.actionId);
      this.logger.warn('scaling action failed', { actionId: a.actionId, action: a.action, target: a.target, error: message });
      await this.persist(event('failed', a.target, message));
      return undefined;
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
