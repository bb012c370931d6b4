import { CapacityDecision, CapacityPlanState, initialCapacityPlanState, planCapacity } from './capacity-planner';
import { BatchBacklog, ScalingObservation } from './observation';
import { decideReplicas, initialReplicaAutoscalerState, ReplicaAutoscalerState, ReplicaDecision } from './replica-autoscaler';
import { ScalingSpec } from './scaling-spec';

/** Everything both stages remember between decisions: plain JSON, recorded with each decision. */
export interface ScalingState {
  readonly replicas: Readonly<Record<string, ReplicaAutoscalerState>>;
  readonly capacity: CapacityPlanState;
}

export const initialScalingState: ScalingState = { replicas: {}, capacity: initialCapacityPlanState };

/** One decision of both stages at time `at`: replicas per model, then VM starts, drains and stops. */
export interface ScaleDecision {
  readonly at: number;
  readonly replicas: Readonly<Record<string, ReplicaDecision>>;
  readonly capacity: CapacityDecision;
}

export interface ScalingStep {
  readonly decision: ScaleDecision;
  readonly nextState: ScalingState;
}

/**
 * Two-stage scaling as one pure step: `decide(spec, state, observation, now) → { decision, nextState }`.
 * No clock, no randomness, no I/O, inputs never mutated: the same inputs give the same decision,
 * which is what replay relies on. Validate the spec once at start-up (`resolveScalingSpec`).
 */
export function decide(spec: ScalingSpec, state: ScalingState, observation: ScalingObservation, now: number): ScalingStep {
  const replicas: Record<string, ReplicaDecision> = {};
  const replicaStates: Record<string, ReplicaAutoscalerState> = {};
  const replicaDemand: Record<string, number | null> = {};
  for (const name of Object.keys(spec.models).sort()) {
    const step = decideReplicas(
      spec.replicas,
      spec.models[name],
      state.replicas[name] ?? initialReplicaAutoscalerState,
      observation.models[name],
      now,
    );
    replicas[name] = step.decision;
    replicaStates[name] = step.nextState;
    replicaDemand[name] = step.decision.valid ? step.decision.neededReplicas : null;
  }
  const batch: Record<string, BatchBacklog | undefined> = {};
  for (const [name, m] of Object.entries(observation.models)) if (m.batch) batch[name] = m.batch;
  const capacity = planCapacity(
    spec,
    state.capacity ?? initialCapacityPlanState,
    { replicaDemand, vms: observation.vms, forecasts: observation.forecasts, batch },
    now,
  );
  return {
    decision: { at: now, replicas, capacity: capacity.decision },
    nextState: { replicas: replicaStates, capacity: capacity.nextState },
  };
}
