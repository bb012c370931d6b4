import { VmObservation, VmState } from '../observation';

/** Adapters behind one interface; names match proto/scaling/v1. */
export type ProviderKind = 'simulated' | 'local' | 'slurm' | 'kubernetes' | 'mdx';

/** A capacity node as its provider knows it. Times are seconds on the caller's clock. */
export interface VmRecord {
  readonly id: string;
  readonly provider: ProviderKind;
  readonly vmType: string;
  /** The model its workers serve. */
  readonly model: string;
  readonly state: VmState;
  readonly requestedAt: number;
  /** When it entered `state`. */
  readonly stateSince: number;
  readonly readyAt: number | null;
  /** When it stopped or failed. */
  readonly endedAt: number | null;
  /** Why it was started, stopped or failed. */
  readonly reason: string | null;
  /** 'batch': started for a batch backlog, its workers register in the model's batch pool; absent: the interactive pool. */
  readonly pool?: 'batch';
}

export interface VmStartRequest {
  readonly vmType: string;
  readonly model: string;
  readonly reason?: string;
  /** 'batch': the node's workers register in the model's batch pool (`maas worker --pool batch`). */
  readonly pool?: 'batch';
}

/** A node changed state: the `vm-state-changed` event (booting, ready, failed, draining, stopping, stopped). */
export interface CapacityEvent {
  readonly vmId: string;
  readonly provider: ProviderKind;
  readonly vmType: string;
  readonly model: string;
  readonly from: VmState | 'none';
  readonly to: VmState;
  readonly at: number;
  readonly reason: string | null;
}

export type CapacityListener = (event: CapacityEvent) => void;

/**
 * Where VMs come from: `simulated` (virtual time, here), `local` and `slurm` (services/vm-scaler).
 * Actions return as soon as the provider has accepted them; progress arrives as events.
 */
export interface CapacityProvider {
  readonly kind: ProviderKind;
  /** Every node it knows that has not ended, in id order. */
  list(): Promise<readonly VmRecord[]>;
  state(vmId: string): Promise<VmRecord | undefined>;
  /** Requests a node; it comes back `booting` and reports `ready` or `failed` later. */
  start(request: VmStartRequest): Promise<VmRecord>;
  /** Marks a ready node draining: its workers stop taking work and finish what they hold. */
  drain(vmId: string, reason?: string): Promise<VmRecord>;
  /** Releases a node. The caller checks it holds no requests: providers do not know about requests. */
  stop(vmId: string, reason?: string): Promise<VmRecord>;
  /** Every state change from now on; returns the unsubscribe function. */
  subscribe(listener: CapacityListener): () => void;
}

/** The planner's view of a provider record, joined with its workers' in-flight count (null: unknown). */
export function toVmObservation(record: VmRecord, inFlight: number | null): VmObservation {
  return {
    id: record.id,
    vmType: record.vmType,
    model: record.model,
    state: record.state,
    requestedAt: record.requestedAt,
    stateSince: record.stateSince,
    inFlight,
    ...(record.pool ? { pool: record.pool } : {}),
  };
}
