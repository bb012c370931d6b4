import { decide, initialScalingState, resolveScalingSpec } from '@maas/scaling';
import { actsOn, decisionId, decisionReasons, decisionTime, scalingDecided } from './decision-record';

const check = resolveScalingSpec({
  capacity: { vmTypes: [{ name: 'gpu', accelerator: 'gpu', costPerHour: 1, bootSeconds: 60, slots: { qwen: 1 }, maxCount: null }] },
  models: { qwen: { metric: 'rps', replicaRequestsPerSecond: 10, targetUtilization: 1, maxUtilization: 1 } },
});
if (!check.ok) throw new Error(check.error);
const spec = check.spec;
const NOW = 1_800_000_000;

describe('decision records', () => {
  it('ids carry their time to the millisecond', () => {
    const id = decisionId(NOW * 1000 + 123, '3f2a');
    expect(id).toBe('sd-20270115T080000.123Z-3f2a');
    expect(decisionTime(id)).toBe(NOW * 1000 + 123);
    expect(decisionTime('sd-nonsense')).toBeUndefined();
  });

  it('records both stages as one "vms" record with every reason', () => {
    const observation = { models: { qwen: { requestRate: 25, concurrency: 5, readyReplicas: 0 } }, vms: [] };
    const { decision } = decide(spec, initialScalingState, observation, NOW);
    expect(actsOn(decision)).toBe(true);
    const reasons = decisionReasons(decision);
    expect(reasons[0]).toMatch(/^replicas qwen: 3 desired: /);
    expect(reasons[1]).toMatch(/^capacity qwen: target 3: .* → start 3 × gpu/);
    const record = scalingDecided(
      'sd-x',
      NOW * 1000,
      { spec, state: initialScalingState, observation, now: NOW, sources: { provider: 'simulated', aggregates: {}, forecasts: {} } },
      decision,
    );
    expect(record).toMatchObject({ decisionId: 'sd-x', stage: 'vms', model: null, decidedAt: '2027-01-15T08:00:00.000Z', reasons });
  });

  it('lists the stop of a drained node once', () => {
    const observation = {
      models: { qwen: { requestRate: 0, concurrency: 0, readyReplicas: 0 } },
      vms: [
        { id: 'vm-1', vmType: 'gpu', model: 'qwen', state: 'draining' as const, requestedAt: NOW - 900, stateSince: NOW - 60, inFlight: 0 },
      ],
    };
    const { decision } = decide(spec, initialScalingState, observation, NOW);
    expect(decision.capacity.stops.map((s) => s.vmId)).toEqual(['vm-1']);
    expect(decisionReasons(decision).filter((r) => r.includes('vm-1'))).toEqual([
      'vm-1 drained for 60 s with no requests in flight → stop',
    ]);
  });
});
