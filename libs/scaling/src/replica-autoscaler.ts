import { duration, num, plural } from './format';
import { ModelObservation } from './observation';
import { ModelScalingSpec, ReplicaAutoscalerSpec } from './scaling-spec';

/** One averaging bucket: [bucket start (s), sum of the observed metric, observations]. */
export type ConcurrencyBucket = readonly [start: number, sum: number, count: number];

/**
 * Everything stage 1 remembers between decisions for one model: an explicit value, never mutated
 * (Knative keeps the same in hidden fields of its autoscaler).
 */
export interface ReplicaAutoscalerState {
  /** The observed metric per bucket within the stable window, oldest first. */
  readonly buckets: readonly ConcurrencyBucket[];
  /** When panic was last (re)armed: the panic ends a stable window after this. null: not panicking. */
  readonly panicSince: number | null;
  /** The most replicas asked for during the current panic (no scale-down while panicking). */
  readonly maxPanicReplicas: number;
  /** Since when the replicas wanted have been zero: the last one goes a grace period later. */
  readonly zeroSince: number | null;
}

export const initialReplicaAutoscalerState: ReplicaAutoscalerState = {
  buckets: [],
  panicSince: null,
  maxPanicReplicas: 0,
  zeroSince: null,
};

export type ReplicaDecision =
  | {
      readonly valid: true;
      /** Knative's answer: what the replicas should be now, paced by the scale-up and scale-down rates. */
      readonly desiredReplicas: number;
      /** The same before the scale-down rate limit: what VMs are planned for (stage 2 paces releases with its own delay). */
      readonly neededReplicas: number;
      readonly readyReplicas: number;
      /** Mean of the metric (concurrency or request rate) over the stable and the panic window. */
      readonly stableValue: number;
      readonly panicValue: number;
      readonly panicking: boolean;
      readonly reason: string;
    }
  | {
      /** No data: the caller keeps what it has (never scales to zero on silence). */
      readonly valid: false;
      readonly readyReplicas: number;
      readonly reason: string;
    };

export interface ReplicaStep {
  readonly decision: ReplicaDecision;
  readonly nextState: ReplicaAutoscalerState;
}

/** Guards `ceil` against 3.0000000001 from floating-point division. */
const EPSILON = 1e-9;

function windowAverage(buckets: readonly ConcurrencyBucket[], from: number): number | undefined {
  let sum = 0;
  let n = 0;
  for (const [start, total, count] of buckets) {
    if (start <= from) continue;
    sum += total / count;
    n += 1;
  }
  return n === 0 ? undefined : sum / n;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

/**
 * Stage 1 for one model: desired replicas from concurrency (or request rate), the way Knative's KPA decides.
 *
 * desired = ⌈window-average metric / (target × utilization)⌉ over a stable (60 s) and a panic
 * (6 s) window, each bounded by the scale-up and scale-down rates relative to the ready replicas.
 * When the panic-window desire reaches `panicThreshold` × ready, panic mode starts: the larger of
 * the two desires is used and never lowered until a stable window passes without crossing the
 * threshold again. The last replica goes only after a stable window of zero concurrency and the
 * grace period. Without any observation in the stable window the result is explicitly not valid.
 */
export function decideReplicas(
  spec: ReplicaAutoscalerSpec,
  model: ModelScalingSpec,
  state: ReplicaAutoscalerState,
  observation: ModelObservation | undefined,
  now: number,
): ReplicaStep {
  const ready =
    observation && Number.isFinite(observation.readyReplicas) && observation.readyReplicas > 0 ? Math.floor(observation.readyReplicas) : 0;
  const stableFrom = now - spec.stableWindowSeconds;
  const buckets = state.buckets.filter(([start]) => start > stableFrom);

  const rps = model.metric === 'rps';
  const metricName = rps ? 'request rate' : 'concurrency';
  const value = rps ? observation?.requestRate : observation?.concurrency;
  const usable = typeof value === 'number' && Number.isFinite(value) && value >= 0;
  if (usable) {
    const start = Math.floor(now / spec.bucketSeconds) * spec.bucketSeconds;
    const last = buckets[buckets.length - 1];
    if (last && last[0] === start) buckets[buckets.length - 1] = [start, last[1] + value, last[2] + 1];
    // an observation older than the newest bucket is ignored: windows only move forward
    else if (!last || last[0] < start) buckets.push([start, value, 1]);
  }

  const stable = windowAverage(buckets, stableFrom);
  if (stable === undefined) {
    const reason =
      usable || value === undefined || value === null
        ? `no ${metricName} reported in the last ${duration(spec.stableWindowSeconds)}; keeping ${plural(ready, 'ready replica')}`
        : `${metricName} ${String(value)} is not a usable number; keeping ${plural(ready, 'ready replica')}`;
    return {
      decision: { valid: false, readyReplicas: ready, reason },
      nextState: { buckets, panicSince: state.panicSince, maxPanicReplicas: state.maxPanicReplicas, zeroSince: state.zeroSince },
    };
  }
  const panic = windowAverage(buckets, now - spec.panicWindowSeconds) ?? stable;

  const perReplicaTarget = rps ? model.replicaRequestsPerSecond : model.targetConcurrencyPerReplica;
  const perReplica = perReplicaTarget * model.targetUtilization;
  const unit = rps ? ' req/s' : '';
  const readyForRates = Math.max(1, ready);
  const maxUp = Math.ceil(spec.maxScaleUpRate * readyForRates);
  const maxDown = Math.floor(readyForRates / spec.maxScaleDownRate);
  const stableNeed = Math.min(maxUp, Math.ceil(stable / perReplica - EPSILON));
  const panicNeed = Math.min(maxUp, Math.ceil(panic / perReplica - EPSILON));
  const stableDesired = Math.max(maxDown, stableNeed);
  const panicDesired = Math.max(maxDown, panicNeed);

  const overThreshold = panicDesired / readyForRates >= spec.panicThreshold;
  let panicSince = state.panicSince;
  let maxPanicReplicas = state.maxPanicReplicas;
  if (overThreshold) panicSince = now;
  else if (panicSince !== null && now >= panicSince + spec.stableWindowSeconds) {
    panicSince = null;
    maxPanicReplicas = 0;
  }

  let desired = stableDesired;
  let needed = stableNeed;
  const why: string[] = [];
  const target = `${num(perReplica)}${unit} per replica (${num(perReplicaTarget)} × ${num(model.targetUtilization)})`;
  if (panicSince !== null) {
    desired = Math.max(stableDesired, panicDesired, maxPanicReplicas);
    maxPanicReplicas = desired;
    needed = desired;
    why.push(
      overThreshold
        ? `panic: ${duration(spec.panicWindowSeconds)} ${metricName} ${num(panic)}${unit} needs ${panicDesired} ≥ ${num(spec.panicThreshold)} × ${readyForRates} ready`
        : `panic until ${duration(panicSince + spec.stableWindowSeconds - now)} more without a burst (${duration(spec.panicWindowSeconds)} ${metricName} ${num(panic)}${unit})`,
      `holding ${desired} (no scale-down while panicking)`,
    );
  } else {
    why.push(`${duration(spec.stableWindowSeconds)} ${metricName} ${num(stable)}${unit} over target ${target} → ${stableNeed}`);
    if (stableDesired > stableNeed) why.push(`down to ${stableDesired} at most now (ready / ${num(spec.maxScaleDownRate)})`);
  }

  const zeroSince = needed === 0 ? (state.zeroSince ?? now) : null;
  if (zeroSince !== null && ready > 0 && now - zeroSince < spec.scaleToZeroGracePeriodSeconds) {
    desired = Math.max(desired, 1);
    needed = 1;
    why.push(
      `keeping the last replica: zero wanted for ${duration(now - zeroSince)} of a ${duration(spec.scaleToZeroGracePeriodSeconds)} grace period`,
    );
  }
  const bounded = clamp(desired, model.minReplicas, model.maxReplicas);
  if (bounded !== desired) why.push(`bounded to ${bounded} by ${bounded > desired ? 'minReplicas' : 'maxReplicas'}`);
  needed = clamp(needed, model.minReplicas, model.maxReplicas);
  why.push(`${ready} ready`);

  return {
    decision: {
      valid: true,
      desiredReplicas: bounded,
      neededReplicas: needed,
      readyReplicas: ready,
      stableValue: stable,
      panicValue: panic,
      panicking: panicSince !== null,
      reason: why.join('; '),
    },
    nextState: { buckets, panicSince, maxPanicReplicas, zeroSince },
  };
}
