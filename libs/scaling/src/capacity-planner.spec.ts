import { forecast, resolveForecastSpec } from '@maas/forecast';
import { CapacityDecision, planCapacity, initialCapacityPlanState } from './capacity-planner';
import { DemandOutlook, VmObservation } from './observation';
import { SimulatedCapacityProvider } from './providers/simulated-provider';
import { CapacityPlanSpec, resolveScalingSpec, ScalingSpec, VmTypeSpec } from './scaling-spec';
import { at, MIN, scalingTimeline } from './testing/timeline';

const gpu: VmTypeSpec = { name: 'gpu-a100', accelerator: 'gpu', costPerHour: 3, bootSeconds: 180, slots: { qwen: 1 }, maxCount: null };
const cpu: VmTypeSpec = { name: 'cpu-64c', accelerator: 'cpu', costPerHour: 1.2, bootSeconds: 60, slots: { qwen: 0.25 }, maxCount: null };

/** qwen: 7 concurrent or 7 req/s per replica at target; GPU VMs with one replica, booting in exactly 3 min. */
function twoStage(capacity: Partial<CapacityPlanSpec> = {}): ScalingSpec {
  const check = resolveScalingSpec({
    models: {
      qwen: { targetConcurrencyPerReplica: 10, replicaRequestsPerSecond: 10, targetUtilization: 0.7, minReplicas: 1, maxReplicas: 20 },
    },
    capacity: {
      vmTypes: [gpu],
      maxVms: 20,
      bootMarginSeconds: 120,
      scaleDownDelaySeconds: 600,
      scaleDownHysteresis: 0.1,
      minDrainSeconds: 5,
      ...capacity,
    },
  });
  if (!check.ok) throw new Error(check.error);
  return check.spec;
}

/** A provider with deterministic 3-min boots and `ready` nodes already running. */
function fleet(ready: number, failureProbability = 0): SimulatedCapacityProvider {
  const provider = new SimulatedCapacityProvider({ bootSeconds: { min: 180, max: 180 }, failureProbability, seed: 7 });
  for (let i = 0; i < ready; i += 1) provider.startVm({ vmType: 'gpu-a100', model: 'qwen' }, 0, { ready: true });
  return provider;
}

/** A forecast of `rate(t)` req/s in 10-min steps, issued at the last whole step, the upper band `spread` × above. */
function outlook(rate: (t: number) => number, spread = 1.2): (t: number) => DemandOutlook {
  return (now) => {
    const origin = Math.floor(now / 600) * 600;
    const points = [1, 2, 3].map((h) => ({
      t: origin + h * 600,
      value: rate(origin + (h - 1) * 600),
      upper: spread * rate(origin + (h - 1) * 600),
    }));
    return { valid: true, stepSeconds: 600, points, upperQuantile: 0.9 };
  };
}

describe('stage 2: VMs from replicas and forecast', () => {
  describe('reactive: load steps from 7 to 35 concurrent at t = 1 min and back at t = 10 min', () => {
    const load = (t: number) => (t >= MIN && t < 10 * MIN ? 35 : 7);
    const timeline = scalingTimeline(twoStage(), { concurrency: load }, { provider: fleet(1) });
    it.each([
      { t: at(MIN - 2), expected: { target: 1, starts: 0, vmsUp: 1 } },
      // panic window average climbs over three ticks; VMs are started as it does
      { t: at(MIN + 6), expected: { target: 5, vmsUp: 5 } },
      // nothing is ready before the 3-min boot: replicas stay wanted, no new starts
      { t: at(3 * MIN), expected: { target: 5, starts: 0, vmsUp: 5 } },
      // demand is gone at 10 min, but capacity is held for the 10-min scale-down delay
      { t: at(19 * MIN), expected: { target: 1, drains: 0, vmsUp: 5 } },
      { t: at(25 * MIN), expected: { target: 1, vmsUp: 1 } },
    ])('at t = $t s: $expected', ({ t, expected }) => {
      timeline.expectDecision(t, expected);
    });
  });

  it('never stops a draining VM with requests in flight', () => {
    const load = (t: number) => (t < 5 * MIN ? 35 : 7);
    const busyUntil = 30 * MIN;
    const timeline = scalingTimeline(
      twoStage({ scaleDownDelaySeconds: 60 }),
      { concurrency: load, inFlight: (_vm, t) => (t < busyUntil ? 2 : 0) },
      { provider: fleet(5) },
    );
    timeline.run(at(10 * MIN));
    const drained = timeline.records.flatMap((r) => r.decision.capacity.drains.map((d) => d.vmId));
    expect(drained).toHaveLength(4);
    expect(timeline.records.flatMap((r) => r.decision.capacity.stops)).toHaveLength(0);
    expect(timeline.records[timeline.records.length - 1].decision.capacity.notes.join('\n')).toContain('waiting for 2 requests in flight');
    timeline.expectDecision(at(busyUntil), { stops: 4 });
  });

  it('holds inside the hysteresis band', () => {
    // 4 replicas wanted against 5 up: 5 ≤ 4 × 1.5, nothing released
    const timeline = scalingTimeline(
      twoStage({ scaleDownDelaySeconds: 0, scaleDownHysteresis: 0.5 }),
      { concurrency: () => 28 },
      { provider: fleet(5) },
    );
    timeline.expectDecision(at(5 * MIN), { target: 4, drains: 0, vmsUp: 5 });
    const noBand = scalingTimeline(
      twoStage({ scaleDownDelaySeconds: 0, scaleDownHysteresis: 0 }),
      { concurrency: () => 28 },
      { provider: fleet(5) },
    );
    noBand.expectDecision(at(5 * MIN), { target: 4, vmsUp: 4 });
  });

  it('pre-starts ahead of forecast demand and explains why', () => {
    // from t = 20 min: 30 req/s expected (5 replicas at 70 %), p90 60 req/s (7 replicas at 90 %); the boot horizon is 3 min + 2 min margin
    const rate = (t: number) => (t >= 20 * MIN ? 30 : 5);
    const timeline = scalingTimeline(
      twoStage(),
      { concurrency: (t) => (t < 20 * MIN ? 5 : 40), forecast: outlook(rate, 2) },
      { provider: fleet(1) },
    );
    // p90 of the quiet hours, 10 req/s, already needs a second replica (started at t = 0)
    timeline.expectDecision(at(15 * MIN - 2), { target: 2, starts: 0, vmsUp: 2 });
    const decision = timeline.expectDecision(at(15 * MIN), { target: 7, starts: 5 });
    expect(decision.capacity.starts[0].reason).toBe(
      'forecast p90 60 req/s in 5 min needs 7 qwen replicas; 2 ready, 0 booting → start 5 × gpu-a100 (boot ~3 min)',
    );
    // ready at 18 min, before the demand arrives; no panic when it does
    timeline.expectDecision(at(20 * MIN + 10), { target: 7, starts: 0, vmsUp: 7, panicking: false });
  });

  it("takes @maas/forecast's output as it is", () => {
    const check = resolveForecastSpec({ horizonSteps: 2 });
    if (!check.ok) throw new Error(check.error);
    // two days of a flat 20 req/s, then asked for the next steps
    const values = Array.from({ length: 288 }, () => 20);
    const result = forecast({ startSeconds: 600, stepSeconds: 600, values }, check.spec, 288 * 600);
    expect(result.valid).toBe(true);
    const decision = planCapacity(
      twoStage(),
      initialCapacityPlanState,
      { replicaDemand: { qwen: 1 }, vms: [], forecasts: { qwen: result } },
      288 * 600,
    ).decision;
    // 20 req/s at 7 per replica
    expect(decision.models.qwen.forecastReplicas).toBe(3);
  });

  describe('what a forecast step needs', () => {
    const step = (value: number, upper: number, t = 1200): DemandOutlook => ({
      valid: true,
      stepSeconds: 600,
      upperQuantile: 0.9,
      points: [{ t, value, upper }],
    });
    const need = (band: CapacityPlanSpec['forecastBand'], outlookNow: DemandOutlook) =>
      planCapacity(
        twoStage({ forecastBand: band }),
        initialCapacityPlanState,
        { replicaDemand: { qwen: 1 }, vms: [], forecasts: { qwen: outlookNow } },
        400,
      ).decision.models.qwen;
    it.each([
      { case: 'point value at 70 %', band: 'value' as const, outlook: step(30, 60), forecastReplicas: 5 },
      { case: 'upper band at 90 % when it needs more', band: 'upper' as const, outlook: step(30, 60), forecastReplicas: 7 },
      { case: 'point value when the band is narrow', band: 'upper' as const, outlook: step(30, 36), forecastReplicas: 5 },
      { case: 'nothing with forecasts off', band: 'off' as const, outlook: step(30, 60), forecastReplicas: null },
      {
        case: 'nothing from an invalid forecast',
        band: 'upper' as const,
        outlook: { valid: false as const, reason: 'stale' },
        forecastReplicas: null,
      },
      { case: 'nothing beyond the boot horizon', band: 'upper' as const, outlook: step(30, 60, 1800), forecastReplicas: null },
    ])('$case', ({ band, outlook: o, forecastReplicas }) => {
      expect(need(band, o).forecastReplicas).toBe(forecastReplicas);
    });
  });

  it('replaces VMs whose boot failed', () => {
    const timeline = scalingTimeline(twoStage(), { concurrency: () => 14 }, { provider: fleet(0, 1) });
    timeline.run(at(15 * MIN));
    const started = timeline.records.reduce((n, r) => n + r.decision.capacity.starts.reduce((m, s) => m + s.count, 0), 0);
    expect(started).toBeGreaterThan(4); // every boot fails, so the 2 wanted replicas keep being requested
    expect(timeline.provider?.records().length).toBeLessThanOrEqual(2);
  });

  it('stays within the VM budget and says so', () => {
    const timeline = scalingTimeline(twoStage({ maxVms: 3 }), { concurrency: () => 70 }, { provider: fleet(1) });
    const decision = timeline.expectDecision(at(MIN), { target: 10, vmsUp: 3 });
    expect(decision.capacity.notes).toContain('qwen short by 7 replicas: budget of 3 VMs reached');
  });

  it('keeps every VM when concurrency data stops (not valid), and never scales to zero', () => {
    const timeline = scalingTimeline(
      twoStage({ scaleDownDelaySeconds: 0 }),
      { concurrency: (t) => (t < MIN ? 35 : null) },
      { provider: fleet(5) },
    );
    timeline.expectDecision(at(30 * MIN), { valid: false, drains: 0, stops: 0, vmsUp: 5 });
  });
});

describe('packing onto VM types', () => {
  const vm = (id: string, vmType: string, state: VmObservation['state'], inFlight: number | null = 0): VmObservation => ({
    id,
    vmType,
    model: 'qwen',
    state,
    requestedAt: 0,
    stateSince: 0,
    inFlight,
  });
  const plan = (capacity: Partial<CapacityPlanSpec>, demand: number, vms: VmObservation[] = []) =>
    planCapacity(
      twoStage({ scaleDownDelaySeconds: 0, scaleDownHysteresis: 0, ...capacity }),
      initialCapacityPlanState,
      { replicaDemand: { qwen: demand }, vms },
      100,
    ).decision;

  it.each([
    { name: 'cheapest slot: GPU at 3/replica over CPU at 4.8', types: [gpu, cpu], demand: 3, starts: ['3 × gpu-a100'] },
    { name: 'GPU quota of 1, the rest on CPU', types: [{ ...gpu, maxCount: 1 }, cpu], demand: 3, starts: ['1 × gpu-a100', '8 × cpu-64c'] },
    {
      name: 'cost budget 7/h: two GPUs, no room left for a CPU',
      types: [gpu, cpu],
      demand: 3,
      maxCostPerHour: 7,
      starts: ['2 × gpu-a100'],
    },
  ])('$name', ({ types, demand, starts, maxCostPerHour }) => {
    const decision = plan({ vmTypes: types, maxCostPerHour: maxCostPerHour ?? null }, demand);
    expect(decision.starts.map((s) => `${s.count} × ${s.vmType}`)).toEqual(starts);
  });

  it('stops booting VMs before draining ready ones, and drains idle ones first', () => {
    const decision = plan({}, 2, [
      vm('a', 'gpu-a100', 'ready', 4),
      vm('b', 'gpu-a100', 'ready', 0),
      vm('c', 'gpu-a100', 'ready', 9),
      vm('d', 'gpu-a100', 'booting', null),
    ]);
    expect(decision.stops.map((s) => s.vmId)).toEqual(['d']);
    expect(decision.drains.map((d) => d.vmId)).toEqual(['b']);
  });

  it('stops a drained VM only after minDrainSeconds with nothing in flight', () => {
    const draining = (id: string, since: number, inFlight: number | null) => ({
      ...vm(id, 'gpu-a100', 'draining', inFlight),
      stateSince: since,
    });
    const decision = plan({}, 1, [
      vm('a', 'gpu-a100', 'ready'),
      draining('x', 99, 0),
      draining('y', 50, 0),
      draining('z', 50, 3),
      draining('w', 50, null),
    ]);
    expect(decision.stops.map((s) => s.vmId)).toEqual(['y']);
  });
});

describe('batch backlog: demand that can wait until its deadline', () => {
  const HOUR = 3600;
  const now = 100 * HOUR;
  const vm = (id: string, state: VmObservation['state'] = 'ready'): VmObservation => ({
    id,
    vmType: 'gpu-a100',
    model: 'qwen',
    state,
    requestedAt: 0,
    stateSince: 0,
    inFlight: 0,
  });
  /** qwen does 0.05 batch req/s per replica (a 6k-token summary in ~20 s, 64 at a time would be more; this is a slow one). */
  function spec(batchRequestsPerReplicaPerSecond: number | null = 0.05, minReplicas = 0): ScalingSpec {
    const check = resolveScalingSpec({
      models: { qwen: { replicaRequestsPerSecond: 10, minReplicas, maxReplicas: 6, batchRequestsPerReplicaPerSecond } },
      capacity: {
        vmTypes: [gpu],
        maxVms: 20,
        bootMarginSeconds: 120,
        scaleDownDelaySeconds: 0,
        scaleDownHysteresis: 0,
        batchDeadlineMarginSeconds: HOUR,
      },
    });
    if (!check.ok) throw new Error(check.error);
    return check.spec;
  }
  const plan = (s: ScalingSpec, interactive: number, vms: VmObservation[], batch?: { requests: number; dueInHours: number }) =>
    planCapacity(
      s,
      initialCapacityPlanState,
      {
        replicaDemand: { qwen: interactive },
        vms,
        batch: batch ? { qwen: { requests: batch.requests, deadline: now + batch.dueInHours * HOUR } } : {},
      },
      now,
    ).decision;

  it.each([
    // 2,000 requests in 24 h − 5 min boot horizon − 1 h margin at 0.05/s need 0.485 of a replica
    {
      name: 'an idle replica does it: it is kept, nothing is started',
      interactive: 0,
      up: 1,
      requests: 2000,
      due: 24,
      target: 1,
      starts: 0,
      batchReplicas: 1,
    },
    {
      name: 'interactive demand leaves none spare: one more replica for the batch',
      interactive: 2,
      up: 2,
      requests: 2000,
      due: 24,
      target: 3,
      starts: 1,
      batchReplicas: 1,
    },
    {
      name: 'scaled to zero with a backlog: the batch starts what its deadline needs',
      interactive: 0,
      up: 0,
      requests: 2000,
      due: 24,
      target: 1,
      starts: 1,
      batchReplicas: 1,
    },
    // 20,000 requests in the same time: 4.85 replicas
    { name: 'a big backlog needs several', interactive: 0, up: 1, requests: 20000, due: 24, target: 5, starts: 4, batchReplicas: 5 },
    {
      name: 'past its deadline: every replica allowed',
      interactive: 1,
      up: 1,
      requests: 10,
      due: 0.5,
      target: 6,
      starts: 5,
      batchReplicas: 6,
    },
  ])('$name', ({ interactive, up, requests, due, target, starts, batchReplicas }) => {
    const decision = plan(
      spec(),
      interactive,
      Array.from({ length: up }, (_v, i) => vm(`v${i}`)),
      { requests, dueInHours: due },
    );
    expect(decision.models.qwen.targetReplicas).toBe(target);
    expect(decision.starts.reduce((s, x) => s + x.count, 0)).toBe(starts);
    expect(decision.models.qwen.batchReplicas).toBe(batchReplicas);
    if (batchReplicas !== undefined && target > interactive)
      expect(decision.models.qwen.reason).toMatch(/^batch backlog of [\d,]+ requests due in \S.* needs \d+ qwen replicas?;/);
  });

  it('without a batch throughput for the model, batch work never starts capacity', () => {
    const decision = plan(spec(null), 0, [], { requests: 20000, dueInHours: 2 });
    expect(decision.starts).toEqual([]);
    expect(decision.models.qwen.targetReplicas).toBe(0);
  });

  it('holds the replicas the backlog needs, releases the rest, and all of them once it is done', () => {
    const vms = [vm('a'), vm('b'), vm('c'), vm('d')];
    // 20,000 requests in 48 h: 2.37 replicas → 3 kept
    expect(plan(spec(), 0, vms, { requests: 20000, dueInHours: 48 }).drains).toHaveLength(1);
    expect(plan(spec(), 0, vms).drains).toHaveLength(4);
  });

  it('rejects a batch throughput that is not positive', () => {
    const check = resolveScalingSpec({ models: { qwen: { batchRequestsPerReplicaPerSecond: 0 } }, capacity: { vmTypes: [gpu] } });
    expect(check).toEqual({
      ok: false,
      error: expect.stringContaining('models["qwen"].batchRequestsPerReplicaPerSecond must be > 0 or null'),
    });
  });
});

describe('batch pool: what the backlog needs beyond the interactive pool’s spare, on workers of its own', () => {
  const HOUR = 3600;
  const now = 100 * HOUR;
  const vm = (id: string, state: VmObservation['state'] = 'ready', pool?: 'batch'): VmObservation => ({
    id,
    vmType: 'gpu-a100',
    model: 'qwen',
    state,
    requestedAt: 0,
    stateSince: 0,
    inFlight: 0,
    ...(pool ? { pool } : {}),
  });
  const check = resolveScalingSpec({
    models: { qwen: { replicaRequestsPerSecond: 10, maxReplicas: 6, batchRequestsPerReplicaPerSecond: 0.05 } },
    capacity: {
      vmTypes: [gpu],
      maxVms: 20,
      bootMarginSeconds: 120,
      scaleDownDelaySeconds: 0,
      scaleDownHysteresis: 0,
      batchDeadlineMarginSeconds: HOUR,
      batchPool: true,
    },
  });
  if (!check.ok) throw new Error(check.error);
  const spec = check.spec;
  const plan = (interactive: number, vms: VmObservation[], batch?: { requests: number; dueInHours: number }) =>
    planCapacity(
      spec,
      initialCapacityPlanState,
      {
        replicaDemand: { qwen: interactive },
        vms,
        batch: batch ? { qwen: { requests: batch.requests, deadline: now + batch.dueInHours * HOUR } } : {},
      },
      now,
    ).decision;
  const started = (d: CapacityDecision, pool?: 'batch') => d.starts.filter((x) => x.pool === pool).reduce((n, x) => n + x.count, 0);

  // 2,000 requests in 24 h − 5 min boot horizon − 1 h margin at 0.05/s need 0.485 of a replica (1); 20,000 need 4.85 (5)
  it.each([
    {
      name: 'a spare interactive replica does it: kept, nothing started',
      interactive: 0,
      up: 1,
      requests: 2000,
      pool: 0,
      interactiveTarget: 1,
    },
    {
      name: 'interactive demand leaves none spare: one batch-pool replica',
      interactive: 2,
      up: 2,
      requests: 2000,
      pool: 1,
      interactiveTarget: 2,
    },
    {
      name: 'a big backlog: the pool takes what the spare one cannot',
      interactive: 0,
      up: 1,
      requests: 20000,
      pool: 4,
      interactiveTarget: 1,
    },
    { name: 'never past maxReplicas with the interactive pool', interactive: 5, up: 5, requests: 20000, pool: 1, interactiveTarget: 5 },
  ])('$name', ({ interactive, up, requests, pool, interactiveTarget }) => {
    const d = plan(
      interactive,
      Array.from({ length: up }, (_v, i) => vm(`v${i}`)),
      { requests, dueInHours: 24 },
    );
    expect(started(d, 'batch')).toBe(pool);
    expect(started(d)).toBe(0); // the interactive pool never grows for the batch
    expect(d.models.qwen.targetReplicas).toBe(interactiveTarget);
    expect(d.models.qwen.batchPool?.targetReplicas).toBe(pool);
    expect(d.drains).toEqual([]);
    if (pool > 0) expect(d.models.qwen.batchPool?.reason).toMatch(/^qwen batch pool: .* → start \d+ × gpu-a100 .* for batch$/);
  });

  it('counts the batch pool apart: up batch-pool VMs are not interactive capacity, and are held while work remains', () => {
    const vms = [vm('i0'), vm('b0', 'ready', 'batch'), vm('b1', 'booting', 'batch'), vm('b2', 'ready', 'batch')];
    // 2,000 requests need one batch replica beyond the interactive one: three are up, none is released
    const d = plan(1, vms, { requests: 2000, dueInHours: 24 });
    expect(d.starts).toEqual([]);
    expect(d.drains).toEqual([]);
    expect(d.stops).toEqual([]);
    expect(d.models.qwen).toMatchObject({ targetReplicas: 1, readyReplicas: 1, bootingReplicas: 0 });
    expect(d.models.qwen.batchPool).toMatchObject({ targetReplicas: 3, readyReplicas: 2, bootingReplicas: 1 });
    expect(d.models.qwen.batchPool?.reason).toMatch(/held until the backlog is done$/);
  });

  it('releases the batch pool once the backlog is done: booting ones stopped, ready ones drained, then stopped when idle', () => {
    const vms = [
      vm('i0'),
      vm('b0', 'ready', 'batch'),
      vm('b1', 'booting', 'batch'),
      { ...vm('b2', 'draining', 'batch'), stateSince: now - 60 },
    ];
    const d = plan(1, vms);
    expect(d.drains.map((x) => x.vmId)).toEqual(['b0']);
    expect(d.stops.map((x) => x.vmId).sort()).toEqual(['b1', 'b2']);
    expect(d.models.qwen.batchPool?.targetReplicas).toBe(0);
    expect(d.drains.concat(d.stops).some((x) => x.vmId === 'i0')).toBe(false);
  });

  it('off by default: the interactive pool grows for the backlog as before', () => {
    const off = resolveScalingSpec({ models: { qwen: { batchRequestsPerReplicaPerSecond: 0.05 } }, capacity: { vmTypes: [gpu] } });
    expect(off.ok && off.spec.capacity.batchPool).toBe(false);
    expect(resolveScalingSpec({ capacity: { vmTypes: [gpu], batchPool: 'yes' as unknown as boolean } })).toEqual({
      ok: false,
      error: expect.stringContaining('capacity.batchPool must be a boolean'),
    });
  });
});
