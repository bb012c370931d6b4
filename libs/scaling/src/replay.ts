import { decide, ScaleDecision, ScalingState } from './decide';
import { ScalingObservation } from './observation';
import { ScalingSpec } from './scaling-spec';

/** The inputs of one decision exactly as the loop passed them: what gets recorded and replayed. */
export interface DecisionInput {
  readonly spec: ScalingSpec;
  readonly state: ScalingState;
  readonly observation: ScalingObservation;
  readonly now: number;
}

export interface DecisionRecord extends DecisionInput {
  readonly decision: ScaleDecision;
}

/**
 * Re-runs recorded decision inputs.
 * - Without `spec`: every record with its own recorded spec and state, which reproduces the recorded
 *   decisions exactly (decide is pure and the inputs are JSON).
 * - With `spec` ("replay with another spec"): state is threaded from the first record's state through
 *   the new spec's own decisions, against the recorded observations. The observations are what the
 *   original policy's actions led to, so this answers "what would this spec have decided then", not
 *   "what would have happened next".
 */
export function replayDecisions(inputs: readonly DecisionInput[], spec?: ScalingSpec): ScaleDecision[] {
  if (!spec) return inputs.map((input) => decide(input.spec, input.state, input.observation, input.now).decision);
  const decisions: ScaleDecision[] = [];
  let state: ScalingState | undefined = inputs[0]?.state;
  for (const input of inputs) {
    const step = decide(spec, state ?? input.state, input.observation, input.now);
    decisions.push(step.decision);
    state = step.nextState;
  }
  return decisions;
}

/** One way two decision sequences disagree. */
export interface DecisionDiff {
  readonly index: number;
  readonly at: number;
  /** What differs, e.g. `replicas["qwen"].desiredReplicas`, `capacity.starts`, `capacity.drains`. */
  readonly field: string;
  readonly a: unknown;
  readonly b: unknown;
}

function sortedUnion(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

const starts = (d: ScaleDecision): string[] => d.capacity.starts.map((s) => `${s.count} × ${s.vmType} for ${s.model}`).sort();
const ids = (list: ReadonlyArray<{ vmId: string }>): string[] => list.map((x) => x.vmId).sort();
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * What two runs decided differently, decision by decision: desired replicas, VM targets, starts,
 * drains, stops (reasons are explanations, not decisions, and are not compared).
 */
export function diffDecisions(a: readonly ScaleDecision[], b: readonly ScaleDecision[]): DecisionDiff[] {
  const diffs: DecisionDiff[] = [];
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i += 1) {
    const x = a[i];
    const y = b[i];
    if (!x || !y) {
      diffs.push({ index: i, at: (x ?? y).at, field: 'decision', a: x ? 'present' : 'missing', b: y ? 'present' : 'missing' });
      continue;
    }
    const at = x.at;
    const push = (field: string, va: unknown, vb: unknown) => {
      if (!same(va, vb)) diffs.push({ index: i, at, field, a: va, b: vb });
    };
    push('at', x.at, y.at);
    for (const model of sortedUnion(x.replicas, y.replicas)) {
      const ra = x.replicas[model];
      const rb = y.replicas[model];
      push(`replicas["${model}"].valid`, ra?.valid ?? null, rb?.valid ?? null);
      push(`replicas["${model}"].desiredReplicas`, ra?.valid ? ra.desiredReplicas : null, rb?.valid ? rb.desiredReplicas : null);
    }
    for (const model of sortedUnion(x.capacity.models, y.capacity.models)) {
      push(
        `capacity.models["${model}"].targetReplicas`,
        x.capacity.models[model]?.targetReplicas ?? null,
        y.capacity.models[model]?.targetReplicas ?? null,
      );
    }
    push('capacity.starts', starts(x), starts(y));
    push('capacity.drains', ids(x.capacity.drains), ids(y.capacity.drains));
    push('capacity.stops', ids(x.capacity.stops), ids(y.capacity.stops));
  }
  return diffs;
}
