/**
 * @maas/scaling — two-stage scaling decisions (replicas, then VMs) and capacity providers.
 *
 * Pure: no clock, no randomness, no I/O. Time is a parameter (seconds); inputs and state are plain
 * JSON, so a recorded decision replays to the identical result.
 *
 *   const check = resolveScalingSpec({ models: { qwen: { targetConcurrencyPerReplica: 40 } },
 *                                      capacity: { vmTypes: [gpuA100] } });    // names the bad key
 *   if (!check.ok) throw new Error(check.error);
 *   let state = initialScalingState;
 *   // every tick (Knative: 2 s), the loop's only clock read:
 *   const { decision, nextState } = decide(check.spec, state, observation, clock.now());
 *   record({ spec, state, observation, now, decision });   // for `maas scaling replay`
 *   state = nextState;
 *   decision.replicas.qwen;      // stage 1: { valid, desiredReplicas, panicking, reason } or { valid: false, reason }
 *   decision.capacity.starts;    // stage 2: [{ vmType, model, count, reason }]
 *   decision.capacity.drains;    // [{ vmId, reason }] — stop routing, let requests finish
 *   decision.capacity.stops;     // [{ vmId, reason }] — booting ones no longer needed, drained ones with nothing in flight
 *
 * Stage 1 (`decideReplicas`) is Knative's KPA: stable (60 s) and panic (6 s) window averages of
 * concurrency over target × utilization, panic at 2× the ready replicas with no scale-down while
 * panicking, scale-up/-down rate limits, scale-to-zero grace, min/max; no data → not valid.
 * Stage 2 (`planCapacity`) packs max(stage-1 replicas, forecast replicas over the boot horizon,
 * minReplicas) onto VM types by cost per slot within a budget; releases capacity only after the
 * scale-down delay and past the hysteresis band; drains before it stops.
 *
 * Replay: `replayDecisions(records)` reproduces recorded decisions; `replayDecisions(records, spec)`
 * re-decides with another spec; `diffDecisions(a, b)` lists what changed.
 *
 * Providers: `CapacityProvider` (list, state, start, drain, stop, subscribe to state changes) and
 * `SimulatedCapacityProvider` (seeded boot times and failures, virtual time).
 */
export type {
  Accelerator,
  CapacityPlanSpec,
  ForecastBand,
  ModelScalingSpec,
  ReplicaAutoscalerSpec,
  ScalingSpec,
  ScalingSpecCheck,
  ScalingMetric,
  ScalingSpecOverrides,
  VmTypeSpec,
} from './scaling-spec';
export {
  defaultCapacityPlanSpec,
  defaultModelScalingSpec,
  defaultReplicaAutoscalerSpec,
  resolveScalingSpec,
  validateScalingSpec,
} from './scaling-spec';
export type {
  BatchBacklog,
  DemandOutlook,
  ModelObservation,
  OutlookPoint,
  ScalingObservation,
  VmObservation,
  VmState,
} from './observation';
export type { ConcurrencyBucket, ReplicaAutoscalerState, ReplicaDecision, ReplicaStep } from './replica-autoscaler';
export { decideReplicas, initialReplicaAutoscalerState } from './replica-autoscaler';
export type {
  CapacityDecision,
  CapacityInputs,
  CapacityPlanState,
  CapacityStep,
  HeldTarget,
  ModelCapacity,
  VmDrain,
  VmStart,
  VmStop,
} from './capacity-planner';
export { bootHorizonSeconds, initialCapacityPlanState, planCapacity, replicasForRate } from './capacity-planner';
export type { ScaleDecision, ScalingState, ScalingStep } from './decide';
export { decide, initialScalingState } from './decide';
export type { DecisionDiff, DecisionInput, DecisionRecord } from './replay';
export { diffDecisions, replayDecisions } from './replay';
export type {
  CapacityEvent,
  CapacityListener,
  CapacityProvider,
  ProviderKind,
  VmRecord,
  VmStartRequest,
} from './providers/capacity-provider';
export { toVmObservation } from './providers/capacity-provider';
export type { BootTimeRange, SimulatedProviderSpec } from './providers/simulated-provider';
export { defaultSimulatedProviderSpec, SimulatedCapacityProvider, validateSimulatedProviderSpec } from './providers/simulated-provider';
export { seededRng } from './rng';
export type { Rng } from './rng';
