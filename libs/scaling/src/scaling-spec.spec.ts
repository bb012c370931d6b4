import { defaultCapacityPlanSpec, resolveScalingSpec, ScalingSpecOverrides, validateScalingSpec } from './scaling-spec';

const gpu = { name: 'gpu-a100', accelerator: 'gpu' as const, costPerHour: 3, bootSeconds: 180, slots: { qwen: 1 }, maxCount: null };

describe('scaling spec', () => {
  it('fills every knob from the defaults, per model too', () => {
    const check = resolveScalingSpec({ models: { qwen: { targetConcurrencyPerReplica: 40 } }, capacity: { vmTypes: [gpu] } });
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.spec.replicas).toEqual({
      stableWindowSeconds: 60,
      panicWindowSeconds: 6,
      panicThreshold: 2,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
      scaleToZeroGracePeriodSeconds: 30,
      bucketSeconds: 1,
    });
    expect(check.spec.models.qwen).toMatchObject({ targetConcurrencyPerReplica: 40, targetUtilization: 0.7, minReplicas: 0 });
    expect(check.spec.capacity).toEqual({ ...defaultCapacityPlanSpec, vmTypes: [gpu] });
    // JSON all the way down: it is recorded with every decision
    expect(JSON.parse(JSON.stringify(check.spec))).toEqual(check.spec);
  });

  it.each<[ScalingSpecOverrides, string]>([
    [{ replicas: { stableWindowSeconds: 0 } }, 'replicas.stableWindowSeconds must be > 0, got 0'],
    [{ replicas: { panicWindowSeconds: 90 } }, 'replicas.panicWindowSeconds must be in (0, stableWindowSeconds = 60], got 90'],
    [{ replicas: { panicThreshold: 1 } }, 'replicas.panicThreshold must be > 1, got 1'],
    [{ replicas: { maxScaleDownRate: Number.NaN } }, 'replicas.maxScaleDownRate must be > 1, got null'],
    [{ capacity: { maxVms: 2.5 } }, 'capacity.maxVms must be an integer ≥ 0, got 2.5'],
    [{ capacity: { maxCostPerHour: -1 } }, 'capacity.maxCostPerHour must be ≥ 0 or null, got -1'],
    [{ capacity: { forecastBand: 'p99' as never } }, 'capacity.forecastBand must be "upper", "value" or "off", got "p99"'],
    [{ capacity: { vmTypes: [{ ...gpu, costPerHour: -3 }] } }, 'capacity.vmTypes[0].costPerHour must be ≥ 0, got -3'],
    [{ capacity: { vmTypes: [gpu, gpu] } }, 'capacity.vmTypes[1].name "gpu-a100" is not unique'],
    [{ capacity: { vmTypes: [{ ...gpu, slots: { qwen: 0 } }] } }, 'capacity.vmTypes[0].slots["qwen"] must be > 0, got 0'],
    [{ models: { qwen: { targetUtilization: 1.5 } } }, 'models["qwen"].targetUtilization must be in (0, 1], got 1.5'],
    [{ models: { qwen: { minReplicas: 3, maxReplicas: 2 } } }, 'models["qwen"].maxReplicas must be an integer ≥ minReplicas (3), got 2'],
    [{ models: { llama: {} }, capacity: { vmTypes: [gpu] } }, 'models["llama"] fits no VM type; add it to some capacity.vmTypes[].slots'],
  ])('rejects %j naming the key', (overrides, message) => {
    expect(resolveScalingSpec(overrides)).toEqual({ ok: false, error: `scaling spec: ${message}` });
  });

  it('validates a hand-built spec the same way', () => {
    expect(validateScalingSpec({ replicas: undefined as never, capacity: defaultCapacityPlanSpec, models: {} })).toBe(
      'scaling spec: replicas must be an object',
    );
  });
});
