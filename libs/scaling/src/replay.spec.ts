import { DemandOutlook } from './observation';
import { SimulatedCapacityProvider } from './providers/simulated-provider';
import { DecisionRecord, diffDecisions, replayDecisions } from './replay';
import { resolveScalingSpec, ScalingSpec } from './scaling-spec';
import { at, MIN, scalingTimeline } from './testing/timeline';

function spec(overrides: { scaleDownDelaySeconds?: number } = {}): ScalingSpec {
  const check = resolveScalingSpec({
    models: { qwen: { targetConcurrencyPerReplica: 10, replicaRequestsPerSecond: 10, minReplicas: 1, maxReplicas: 30 } },
    capacity: {
      vmTypes: [{ name: 'gpu-a100', accelerator: 'gpu', costPerHour: 3, bootSeconds: 240, slots: { qwen: 1 }, maxCount: null }],
      maxVms: 30,
      ...overrides,
    },
  });
  if (!check.ok) throw new Error(check.error);
  return check.spec;
}

/** 40 minutes of bursty load with a forecast, failing boots and busy drains: every branch of the planner. */
function record(): DecisionRecord[] {
  const provider = new SimulatedCapacityProvider({ seed: 3, failureProbability: 0.2 });
  provider.startVm({ vmType: 'gpu-a100', model: 'qwen' }, 0, { ready: true });
  const load = (t: number) => (t < 5 * MIN ? 6 : t < 12 * MIN ? 45 + (t % 7) : t < 20 * MIN ? null : 12 + (t % 5) * 0.37);
  const forecast = (t: number): DemandOutlook =>
    t < 8 * MIN
      ? { valid: false, reason: 'only 3 steps of history' }
      : {
          valid: true,
          stepSeconds: 600,
          upperQuantile: 0.9,
          points: [
            { t: Math.ceil(t / 600) * 600, value: 9.3, upper: 13.1 },
            { t: Math.ceil(t / 600) * 600 + 600, value: 4.1, upper: 6.2 },
          ],
        };
  const timeline = scalingTimeline(
    spec(),
    { concurrency: load, forecast, inFlight: (vm, t) => (vm.id.endsWith('3') && t < 35 * MIN ? 1 : 0) },
    { provider },
  );
  timeline.run(at(40 * MIN));
  return timeline.records;
}

describe('replay', () => {
  const records = record();
  const recorded = records.map((r) => r.decision);

  it('covers starts, drains and stops', () => {
    const count = (pick: (r: DecisionRecord) => readonly unknown[]) => records.reduce((n, r) => n + pick(r).length, 0);
    expect(count((r) => r.decision.capacity.starts)).toBeGreaterThan(3);
    expect(count((r) => r.decision.capacity.drains)).toBeGreaterThan(0);
    expect(count((r) => r.decision.capacity.stops)).toBeGreaterThan(0);
    expect(records.some((r) => !r.decision.replicas.qwen.valid)).toBe(true);
  });

  it('reproduces every decision exactly from inputs that went through JSON', () => {
    const stored = JSON.parse(
      JSON.stringify(records.map(({ spec: s, state, observation, now }) => ({ spec: s, state, observation, now }))),
    );
    const replayed = replayDecisions(stored);
    expect(JSON.stringify(replayed)).toBe(JSON.stringify(recorded));
    expect(diffDecisions(recorded, replayed)).toEqual([]);
  });

  it('threads its own state when replayed with the recorded spec', () => {
    const stored = JSON.parse(JSON.stringify(records));
    expect(diffDecisions(recorded, replayDecisions(stored, stored[0].spec))).toEqual([]);
  });

  it('shows what another spec would have decided', () => {
    const replayed = replayDecisions(records, spec({ scaleDownDelaySeconds: 60 }));
    const diffs = diffDecisions(recorded, replayed);
    expect(diffs.length).toBeGreaterThan(0);
    // only capacity release differs: stage 1 and the starts are the same until the first early drain
    const first = diffs[0];
    expect(first.field).toBe('capacity.drains');
    expect(first.a).toEqual([]);
    expect((first.b as string[]).length).toBeGreaterThan(0);
    expect(diffs.every((d) => !d.field.startsWith('replicas['))).toBe(true);
  });

  it('never mutates its inputs', () => {
    const freeze = <T>(value: T): T => {
      if (value && typeof value === 'object') {
        Object.values(value).forEach(freeze);
        Object.freeze(value);
      }
      return value;
    };
    const frozen = freeze(JSON.parse(JSON.stringify(records)) as DecisionRecord[]);
    expect(diffDecisions(recorded, replayDecisions(frozen))).toEqual([]);
    expect(diffDecisions(recorded, replayDecisions(frozen, frozen[0].spec))).toEqual([]);
  });

  it('reports missing decisions', () => {
    expect(diffDecisions(recorded.slice(0, 2), recorded.slice(0, 1))).toEqual([
      { index: 1, at: recorded[1].at, field: 'decision', a: 'present', b: 'missing' },
    ]);
  });
});
