/**
 * What a scaling decision is made from. Plain JSON values: the loop records them with each decision,
 * and replay feeds them back unchanged.
 */

/** Per-model load over the interval since the previous decision (the metrics collector's aggregate). */
export interface ModelObservation {
  /** Mean requests in flight plus queued across the model's replicas; null or absent when not reported. */
  readonly concurrency?: number | null;
  /** Replicas serving now. */
  readonly readyReplicas: number;
  /** Requests per second over the interval, for reasons and dashboards. */
  readonly requestRate?: number | null;
  /** Batch work not done yet: demand that can wait until its deadline; absent when there is none. */
  readonly batch?: BatchBacklog;
}

/** Batch requests queued or running for a model, and the earliest deadline among their batches. */
export interface BatchBacklog {
  readonly requests: number;
  /** Seconds; null when unknown (such work never starts capacity). */
  readonly deadline: number | null;
}

/** Lifecycle of a capacity node; the names match proto/scaling/v1 `vm-state-changed`. */
export type VmState = 'requested' | 'booting' | 'ready' | 'draining' | 'stopping' | 'stopped' | 'failed';

/** A capacity node as the planner sees it: provider state joined with its workers' load reports. */
export interface VmObservation {
  readonly id: string;
  readonly vmType: string;
  /** The model its workers serve. */
  readonly model: string;
  readonly state: VmState;
  /** When the start was requested (seconds). */
  readonly requestedAt: number;
  /** When the VM entered its current state (seconds): drain age, boot age. */
  readonly stateSince: number;
  /** Requests its workers hold (running + queued); null when unknown, which never counts as idle. */
  readonly inFlight: number | null;
  /** 'batch': started for a batch backlog, its workers take no interactive traffic; absent: the model's interactive pool. */
  readonly pool?: 'batch';
}

/** One step of a demand forecast in requests per second; the step covers (t − stepSeconds, t]. */
export interface OutlookPoint {
  readonly t: number;
  readonly value: number;
  readonly upper: number;
}

/**
 * A demand forecast for one model. `ValidForecast`/`DemandForecast` of @maas/forecast are
 * assignable to this type, so the forecaster's output can be passed as it is.
 */
export type DemandOutlook =
  | {
      readonly valid: true;
      readonly stepSeconds: number;
      readonly points: readonly OutlookPoint[];
      /** Level of `upper`, e.g. 0.9: shown as "p90" in reasons. */
      readonly upperQuantile?: number;
      /** Forecasting method, for reasons. */
      readonly model?: string;
    }
  | { readonly valid: false; readonly reason: string };

export interface ScalingObservation {
  readonly models: Readonly<Record<string, ModelObservation>>;
  readonly vms: readonly VmObservation[];
  /** Per model; absent or invalid forecasts leave the decision to the reactive signal. */
  readonly forecasts?: Readonly<Record<string, DemandOutlook>>;
}
