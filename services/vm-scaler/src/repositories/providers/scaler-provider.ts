import type { Clock } from '@maas/platform';
import type { CapacityEvent, CapacityListener, CapacityProvider, ProviderKind, VmRecord, VmStartRequest } from '@maas/scaling';
import type { VmState } from '@maas/scaling';

export const CAPACITY_PROVIDER = Symbol('CAPACITY_PROVIDER');

/** A capacity provider as the scaling loop drives it on the wall clock. */
export interface ScalerCapacityProvider extends CapacityProvider {
  /** Whether its nodes run real workers that report load; simulated nodes run none and hold nothing. */
  readonly hostsWorkers: boolean;
  /** A worker on this node reported ready: its boot is over. */
  workerReady(vmId: string): void;
  /** Stage 1 carried out by the platform (Kubernetes): each model's replicas. Absent: workers are the nodes' own. */
  scaleReplicas?(replicas: Readonly<Record<string, number>>): Promise<void>;
  /** Starts its own timers; adopts nodes that outlived a previous scaler (Slurm jobs). */
  open(): Promise<void>;
  /** Stops its timers; local processes are drained, since they would not outlive the scaler anyway. */
  close(): Promise<void>;
}

const ENDED: ReadonlySet<VmState> = new Set(['stopped', 'failed']);

/** The nodes of one provider and their state changes, in seconds of the provider's clock. */
export class NodeLedger {
  private readonly nodes = new Map<string, VmRecord>();
  private readonly listeners = new Set<CapacityListener>();

  constructor(
    private readonly kind: ProviderKind,
    private readonly clock: Clock,
  ) {}

  now(): number {
    return this.clock.now() / 1000;
  }

  add(id: string, request: VmStartRequest, state: VmState, reason: string | null, requestedAt = this.now()): VmRecord {
    const at = this.now();
    const record: VmRecord = {
      id,
      provider: this.kind,
      vmType: request.vmType,
      model: request.model,
      state,
      requestedAt,
      stateSince: at,
      readyAt: state === 'ready' ? at : null,
      endedAt: null,
      reason: reason ?? request.reason ?? null,
      ...(request.pool ? { pool: request.pool } : {}),
    };
    this.nodes.set(id, record);
    this.emit({
      vmId: id,
      provider: this.kind,
      vmType: record.vmType,
      model: record.model,
      from: 'none',
      to: state,
      at,
      reason: record.reason,
    });
    return record;
  }

  get(id: string): VmRecord | undefined {
    return this.nodes.get(id);
  }

  /** The node or an error naming the known ones. */
  require(id: string): VmRecord {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`${this.kind} provider: no node "${id}" (known: ${[...this.nodes.keys()].join(', ') || 'none'})`);
    return node;
  }

  /** Moves a node to `to` (a no-op when it is there already); ended nodes leave the ledger. */
  transition(id: string, to: VmState, reason: string | null): VmRecord {
    const node = this.require(id);
    if (node.state === to) return node;
    const at = this.now();
    const ended = ENDED.has(to);
    const next: VmRecord = {
      ...node,
      state: to,
      stateSince: at,
      readyAt: to === 'ready' ? at : node.readyAt,
      endedAt: ended ? at : null,
      reason: reason ?? node.reason,
    };
    if (ended) this.nodes.delete(id);
    else this.nodes.set(id, next);
    this.emit({ vmId: id, provider: this.kind, vmType: node.vmType, model: node.model, from: node.state, to, at, reason });
    return next;
  }

  list(): VmRecord[] {
    return [...this.nodes.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  subscribe(listener: CapacityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: CapacityEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
