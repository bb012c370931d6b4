import type { ScalingDecided } from '@maas/contracts';
import { DecisionInput, ScaleDecision } from '@maas/scaling';

/**
 * Where the observation came from, for `maas scaling explain`: not read by the policy, so replay
 * ignores it.
 */
export interface DecisionSources {
  readonly provider: string;
  /** intervalStart of the aggregate used per model. */
  readonly aggregates: Readonly<Record<string, string>>;
  /** forecastId and method used per model. */
  readonly forecasts: Readonly<Record<string, { readonly forecastId: string; readonly method: string; readonly issuedAt: string }>>;
}

/** Everything one tick decided from: `DecisionInput` (what replay re-runs) plus its sources. */
export interface RecordedInputs extends DecisionInput {
  readonly sources: DecisionSources;
}

/** `sd-20261124T224419.123Z-3f2a`: sortable, readable, and tells `explain` where in the stream to look. */
export function decisionId(nowMs: number, suffix: string): string {
  return `sd-${new Date(nowMs).toISOString().replace(/[-:]/g, '')}-${suffix}`;
}

/** The time encoded in a decision id (ms), or undefined when it is not one. */
export function decisionTime(id: string): number | undefined {
  const m = /^sd-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-[0-9a-z]+$/.exec(id);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A decision changes something only when it starts, drains or stops a node. */
export function actsOn(decision: ScaleDecision): boolean {
  return decision.capacity.starts.length + decision.capacity.drains.length + decision.capacity.stops.length > 0;
}

/** The reasons of both stages, one line each: replicas per model, capacity per model, stops of drained nodes, notes. */
export function decisionReasons(decision: ScaleDecision): string[] {
  const reasons: string[] = [];
  for (const [model, r] of Object.entries(decision.replicas)) {
    reasons.push(`replicas ${model}: ${r.valid ? `${r.desiredReplicas} desired` : 'not valid'}: ${r.reason}`);
  }
  const plans = Object.entries(decision.capacity.models).map(([model, c]) => `capacity ${model}: target ${c.targetReplicas}: ${c.reason}`);
  reasons.push(...plans);
  for (const stop of decision.capacity.stops) if (!plans.some((p) => p.includes(`stop ${stop.vmId}`))) reasons.push(stop.reason);
  reasons.push(...decision.capacity.notes);
  return reasons;
}

/**
 * One record per tick with stage "vms": `decide` returns both stages from one set of inputs, and the
 * record is the unit replay re-runs, so both stages travel together rather than as two records.
 */
export function scalingDecided(id: string, decidedAtMs: number, inputs: RecordedInputs, decision: ScaleDecision): ScalingDecided {
  return {
    decisionId: id,
    stage: 'vms',
    model: null,
    decidedAt: new Date(decidedAtMs).toISOString(),
    inputs: inputs as unknown as ScalingDecided['inputs'],
    decision: decision as unknown as ScalingDecided['decision'],
    reasons: decisionReasons(decision),
  };
}
