/**
 * Replays time through `decide` for table-driven specs:
 *
 *   const timeline = scalingTimeline(spec, { concurrency: (t) => (t < 60 ? 10 : 80) });
 *   timeline.expectDecision(at(5 * MIN), { replicas: 3 });
 *
 * Each tick builds the observation from the scenario and, when a simulated provider is given,
 * from its nodes; decisions are applied to the provider, so boots, drains and stops play out.
 */
import { decide, initialScalingState, ScaleDecision, ScalingState } from '../decide';
import { DemandOutlook, ScalingObservation, VmObservation } from '../observation';
import { toVmObservation } from '../providers/capacity-provider';
import { SimulatedCapacityProvider } from '../providers/simulated-provider';
import { DecisionRecord } from '../replay';
import { ScalingSpec } from '../scaling-spec';

export const MIN = 60;

/** Reads as `at(now + 5 * MIN)` in a table. */
export const at = (seconds: number): number => seconds;

export interface Scenario {
  /** Observed concurrency at t; null or undefined: not reported. */
  readonly concurrency: (t: number) => number | null | undefined;
  /** Observed request rate at t (the rps metric); not reported when absent. */
  readonly requestRate?: (t: number) => number | null | undefined;
  /** Ready replicas at t when no provider is given (default: what was last desired). */
  readonly readyReplicas?: (t: number, lastDesired: number) => number;
  readonly forecast?: (t: number) => DemandOutlook | undefined;
  /** In-flight requests a node reports (default: 0). */
  readonly inFlight?: (vm: VmObservation, t: number) => number | null;
}

export interface ExpectedDecision {
  readonly valid?: boolean;
  readonly replicas?: number;
  readonly panicking?: boolean;
  readonly target?: number;
  /** Total VMs started by this decision. */
  readonly starts?: number;
  readonly drains?: number;
  readonly stops?: number;
  /** Nodes up (not stopped or failed) after this decision was applied. */
  readonly vmsUp?: number;
}

export interface ScalingTimeline {
  /** Ticks until `t` and returns the decision made at `t`. */
  run(t: number): ScaleDecision;
  expectDecision(t: number, expected: ExpectedDecision): ScaleDecision;
  readonly records: DecisionRecord[];
  readonly provider?: SimulatedCapacityProvider;
}

export function scalingTimeline(
  spec: ScalingSpec,
  scenario: Scenario,
  options: { model?: string; tickSeconds?: number; start?: number; provider?: SimulatedCapacityProvider } = {},
): ScalingTimeline {
  const model = options.model ?? Object.keys(spec.models)[0];
  const tick = options.tickSeconds ?? 2;
  const provider = options.provider;
  const records: DecisionRecord[] = [];
  let now = options.start ?? 0;
  let state: ScalingState = initialScalingState;
  let lastDesired = 0;
  let last: ScaleDecision | undefined;

  const slots = (vmType: string, m: string) => spec.capacity.vmTypes.find((t) => t.name === vmType)?.slots[m] ?? 0;

  const step = (t: number): ScaleDecision => {
    let vms: VmObservation[] = [];
    let ready: number;
    if (provider) {
      provider.advance(t);
      vms = provider.records().map((r) => {
        const base = toVmObservation(r, 0);
        return { ...base, inFlight: scenario.inFlight ? scenario.inFlight(base, t) : 0 };
      });
      ready = vms.filter((vm) => vm.state === 'ready' && vm.model === model).reduce((sum, vm) => sum + slots(vm.vmType, vm.model), 0);
    } else {
      ready = scenario.readyReplicas ? scenario.readyReplicas(t, lastDesired) : lastDesired;
    }
    const forecast = scenario.forecast?.(t);
    const observation: ScalingObservation = {
      models: {
        [model]: {
          concurrency: scenario.concurrency(t),
          readyReplicas: ready,
          ...(scenario.requestRate ? { requestRate: scenario.requestRate(t) } : {}),
        },
      },
      vms,
      ...(forecast ? { forecasts: { [model]: forecast } } : {}),
    };
    const result = decide(spec, state, observation, t);
    records.push({ spec, state, observation, now: t, decision: result.decision });
    state = result.nextState;
    const r = result.decision.replicas[model];
    if (r?.valid) lastDesired = r.desiredReplicas;
    if (provider) {
      for (const s of result.decision.capacity.starts)
        for (let i = 0; i < s.count; i += 1) provider.startVm({ vmType: s.vmType, model: s.model, reason: s.reason }, t);
      for (const d of result.decision.capacity.drains) provider.drainVm(d.vmId, t, d.reason);
      for (const s of result.decision.capacity.stops) provider.stopVm(s.vmId, t, s.reason);
    }
    return result.decision;
  };

  const run = (t: number): ScaleDecision => {
    while (now <= t) {
      last = step(now);
      now += tick;
    }
    if (last === undefined || last.at !== t)
      throw new Error(`timeline: t=${t} is not on the ${tick} s tick grid or already passed (last decision at t=${last?.at})`);
    return last;
  };

  const expectDecision = (t: number, expected: ExpectedDecision): ScaleDecision => {
    const decision = run(t);
    const r = decision.replicas[model];
    const c = decision.capacity;
    const actual: Record<string, unknown> = {};
    if (expected.valid !== undefined) actual.valid = r.valid;
    if (expected.replicas !== undefined) actual.replicas = r.valid ? r.desiredReplicas : null;
    if (expected.panicking !== undefined) actual.panicking = r.valid ? r.panicking : null;
    if (expected.target !== undefined) actual.target = c.models[model]?.targetReplicas;
    if (expected.starts !== undefined) actual.starts = c.starts.reduce((n, s) => n + s.count, 0);
    if (expected.drains !== undefined) actual.drains = c.drains.length;
    if (expected.stops !== undefined) actual.stops = c.stops.length;
    if (expected.vmsUp !== undefined) actual.vmsUp = provider?.records().length;
    const context = `decision at t=${t}: ${r.reason} | ${c.models[model]?.reason ?? ''}`;
    expect({ ...actual, context }).toEqual({ ...expected, context });
    return decision;
  };

  return { run, expectDecision, records, provider };
}
