/**
 * Every tuning knob of two-stage scaling, in one documented value (STYLE §3).
 *
 * Durations are seconds, rates are per second, costs are per hour in whatever unit the operator
 * bills in. The spec is plain JSON (no Infinity, no functions) because it is recorded with every
 * decision and replayed.
 */

/** Stage 1: replicas per model from observed concurrency, Knative-KPA style. */
export interface ReplicaAutoscalerSpec {
  /** Averaging window of the stable mode (Knative stable-window, 60 s). */
  readonly stableWindowSeconds: number;
  /** Averaging window of the panic mode (Knative: 10 % of the stable window, 6 s). */
  readonly panicWindowSeconds: number;
  /** Enter panic when the panic-window desired replicas reach this multiple of the ready ones (Knative 200 % → 2). */
  readonly panicThreshold: number;
  /** At most this multiple of the ready replicas in one decision (Knative max-scale-up-rate, 1000). */
  readonly maxScaleUpRate: number;
  /** At most ready/this fewer replicas in one decision (Knative max-scale-down-rate, 2: halve at most). */
  readonly maxScaleDownRate: number;
  /** The last replica stays this long after zero replicas are first wanted (itself after a stable window of zero concurrency). */
  readonly scaleToZeroGracePeriodSeconds: number;
  /** Observations are averaged per bucket of this many seconds before the window averages. */
  readonly bucketSeconds: number;
}

/**
 * What stage 1 averages (Knative's metric annotation). 'concurrency' is Knative's default; 'rps' suits
 * batching LLM engines better: their latency grows with load, so concurrency per replica is strongly
 * convex in load and a concurrency target under-sizes at low utilisation and over-sizes in bursts.
 */
export type ScalingMetric = 'concurrency' | 'rps';

/** How one model is served and how hard each replica may be driven. */
export interface ModelScalingSpec {
  readonly metric: ScalingMetric;
  /** Concurrent requests (in flight + queued) one replica carries at 100 % of its target (Knative target). */
  readonly targetConcurrencyPerReplica: number;
  /** Share of the target aimed for; the rest is headroom for bursts (Knative target-utilization-percentage / 100). */
  readonly targetUtilization: number;
  /**
   * Highest share of the target at which replicas still meet the latency SLO. The forecast's upper band
   * is a pessimistic case, planned at this utilisation; its point value is planned at targetUtilization.
   */
  readonly maxUtilization: number;
  /** Requests per second one replica sustains at 100 % of its target: the rps target, and what turns a rate forecast into replicas. */
  readonly replicaRequestsPerSecond: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /**
   * Batch requests per second one replica completes when it runs batch work only. Batch work fills
   * spare capacity; with this set, replicas are also started when the backlog could not otherwise be
   * done by its deadline. null: batch work never starts capacity.
   */
  readonly batchRequestsPerReplicaPerSecond: number | null;
}

export type Accelerator = 'gpu' | 'cpu';

/** A kind of capacity node. A VM serves one model at a time (the paper's single-GPU deployments). */
export interface VmTypeSpec {
  readonly name: string;
  readonly accelerator: Accelerator;
  readonly costPerHour: number;
  /** Typical request-to-serving time; the forecast look-ahead is this plus `bootMarginSeconds`. */
  readonly bootSeconds: number;
  /** Replicas of each model one VM of this type runs (in units of the model's replica capacity; may be fractional). */
  readonly slots: Readonly<Record<string, number>>;
  /** Quota of VMs of this type up at once; null for none beyond `maxVms`. */
  readonly maxCount: number | null;
}

/** Which forecast value capacity is planned against. */
export type ForecastBand = 'upper' | 'value' | 'off';

/** Stage 2: VMs from the replicas stage 1 wants and from the forecast over the boot horizon. */
export interface CapacityPlanSpec {
  readonly vmTypes: readonly VmTypeSpec[];
  /** Budget: VMs up at once (requested, booting, ready, draining), all types together. */
  readonly maxVms: number;
  /** Budget: cost per hour of the VMs up at once; null for none. */
  readonly maxCostPerHour: number | null;
  /** Added to a type's boot time to form the look-ahead: scheduling, model load, one decision interval. */
  readonly bootMarginSeconds: number;
  /** 'upper': the point value at targetUtilization and the upper quantile at maxUtilization, whichever needs more; 'value': the point value only; 'off'. */
  readonly forecastBand: ForecastBand;
  /** Count stage 1's desired replicas in the VM target; off only when planning from a trusted forecast alone (an oracle). */
  readonly useReplicaDemand: boolean;
  /** A need must have been gone this long before the VMs that met it are released (cluster-autoscaler's 10 min). */
  readonly scaleDownDelaySeconds: number;
  /** Release VMs only when capacity exceeds the held need by this fraction, then down to the need: a dead band. */
  readonly scaleDownHysteresis: number;
  /** A draining VM is stopped no sooner than this after its drain began (gateways must stop routing to it first). */
  readonly minDrainSeconds: number;
  /** Batch backlogs are planned to be done this long before their deadline (on top of the boot horizon). */
  readonly batchDeadlineMarginSeconds: number;
  /**
   * What a batch backlog needs beyond the interactive pool's spare replicas is started as a batch pool
   * (starts with `pool: 'batch'`, whose workers take no interactive traffic and run batch work at full
   * concurrency), released once the backlog is done. Off: the interactive pool grows for it instead.
   * Needs a provider that starts workers with the pool label and reports it back on its nodes.
   */
  readonly batchPool: boolean;
}

export interface ScalingSpec {
  readonly replicas: ReplicaAutoscalerSpec;
  readonly capacity: CapacityPlanSpec;
  /** Per model (Hugging Face id or alias); models absent here are not managed. */
  readonly models: Readonly<Record<string, ModelScalingSpec>>;
}

export const defaultReplicaAutoscalerSpec: ReplicaAutoscalerSpec = {
  stableWindowSeconds: 60,
  panicWindowSeconds: 6,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  scaleToZeroGracePeriodSeconds: 30,
  bucketSeconds: 1,
};

export const defaultModelScalingSpec: ModelScalingSpec = {
  metric: 'concurrency',
  targetConcurrencyPerReplica: 32,
  targetUtilization: 0.7,
  maxUtilization: 0.9,
  replicaRequestsPerSecond: 10,
  minReplicas: 0,
  maxReplicas: 100,
  batchRequestsPerReplicaPerSecond: null,
};

export const defaultCapacityPlanSpec: CapacityPlanSpec = {
  vmTypes: [],
  maxVms: 100,
  maxCostPerHour: null,
  bootMarginSeconds: 120,
  forecastBand: 'upper',
  useReplicaDemand: true,
  scaleDownDelaySeconds: 600,
  scaleDownHysteresis: 0.1,
  minDrainSeconds: 5,
  batchDeadlineMarginSeconds: 3600,
  batchPool: false,
};

/** Overrides accepted by `resolveScalingSpec`: any subset of any section. */
export interface ScalingSpecOverrides {
  readonly replicas?: Partial<ReplicaAutoscalerSpec>;
  readonly capacity?: Partial<CapacityPlanSpec>;
  readonly models?: Readonly<Record<string, Partial<ModelScalingSpec>>>;
}

export type ScalingSpecCheck = { ok: true; spec: ScalingSpec } | { ok: false; error: string };

/** Merges overrides into the defaults (per model too) and validates, naming the first bad key. */
export function resolveScalingSpec(overrides: ScalingSpecOverrides = {}): ScalingSpecCheck {
  const models: Record<string, ModelScalingSpec> = {};
  for (const [name, model] of Object.entries(overrides.models ?? {})) models[name] = { ...defaultModelScalingSpec, ...model };
  const spec: ScalingSpec = {
    replicas: { ...defaultReplicaAutoscalerSpec, ...overrides.replicas },
    capacity: { ...defaultCapacityPlanSpec, ...overrides.capacity },
    models,
  };
  const error = validateScalingSpec(spec);
  return error ? { ok: false, error } : { ok: true, spec };
}

type Rule = [key: string, value: unknown, ok: (v: number) => boolean, expected: string];

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkRules(rules: Rule[]): string | undefined {
  for (const [key, value, ok, expected] of rules) {
    if (!isNumber(value) || !ok(value)) return `scaling spec: ${key} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}`;
  }
  return undefined;
}

const positive = (v: number) => v > 0;
const nonNegative = (v: number) => v >= 0;
const nonNegativeInt = (v: number) => Number.isInteger(v) && v >= 0;

/** Returns a message naming the failing key (e.g. `capacity.vmTypes[0].costPerHour`), or undefined. */
export function validateScalingSpec(spec: ScalingSpec): string | undefined {
  if (!spec || typeof spec !== 'object') return 'scaling spec: must be an object';
  const r = spec.replicas;
  if (!r || typeof r !== 'object') return 'scaling spec: replicas must be an object';
  const replicaError = checkRules([
    ['replicas.stableWindowSeconds', r.stableWindowSeconds, positive, '> 0'],
    [
      'replicas.panicWindowSeconds',
      r.panicWindowSeconds,
      (v) => v > 0 && v <= r.stableWindowSeconds,
      `in (0, stableWindowSeconds = ${r.stableWindowSeconds}]`,
    ],
    ['replicas.panicThreshold', r.panicThreshold, (v) => v > 1, '> 1'],
    ['replicas.maxScaleUpRate', r.maxScaleUpRate, (v) => v > 1, '> 1'],
    ['replicas.maxScaleDownRate', r.maxScaleDownRate, (v) => v > 1, '> 1'],
    ['replicas.scaleToZeroGracePeriodSeconds', r.scaleToZeroGracePeriodSeconds, nonNegative, '≥ 0'],
    [
      'replicas.bucketSeconds',
      r.bucketSeconds,
      (v) => v > 0 && v <= r.panicWindowSeconds,
      `in (0, panicWindowSeconds = ${r.panicWindowSeconds}]`,
    ],
  ]);
  if (replicaError) return replicaError;

  const c = spec.capacity;
  if (!c || typeof c !== 'object') return 'scaling spec: capacity must be an object';
  const capacityError = checkRules([
    ['capacity.maxVms', c.maxVms, nonNegativeInt, 'an integer ≥ 0'],
    ['capacity.bootMarginSeconds', c.bootMarginSeconds, nonNegative, '≥ 0'],
    ['capacity.scaleDownDelaySeconds', c.scaleDownDelaySeconds, nonNegative, '≥ 0'],
    ['capacity.scaleDownHysteresis', c.scaleDownHysteresis, nonNegative, '≥ 0'],
    ['capacity.minDrainSeconds', c.minDrainSeconds, nonNegative, '≥ 0'],
    ['capacity.batchDeadlineMarginSeconds', c.batchDeadlineMarginSeconds, nonNegative, '≥ 0'],
  ]);
  if (capacityError) return capacityError;
  if (c.maxCostPerHour !== null) {
    const costError = checkRules([['capacity.maxCostPerHour', c.maxCostPerHour, nonNegative, '≥ 0 or null']]);
    if (costError) return costError;
  }
  if (!['upper', 'value', 'off'].includes(c.forecastBand))
    return `scaling spec: capacity.forecastBand must be "upper", "value" or "off", got ${JSON.stringify(c.forecastBand)}`;
  if (typeof c.batchPool !== 'boolean') return `scaling spec: capacity.batchPool must be a boolean, got ${JSON.stringify(c.batchPool)}`;
  if (typeof c.useReplicaDemand !== 'boolean')
    return `scaling spec: capacity.useReplicaDemand must be a boolean, got ${JSON.stringify(c.useReplicaDemand)}`;
  if (!Array.isArray(c.vmTypes)) return 'scaling spec: capacity.vmTypes must be an array';
  const typeNames = new Set<string>();
  for (let i = 0; i < c.vmTypes.length; i += 1) {
    const t = c.vmTypes[i];
    const key = `capacity.vmTypes[${i}]`;
    if (!t || typeof t.name !== 'string' || t.name === '') return `scaling spec: ${key}.name must be a non-empty string`;
    if (typeNames.has(t.name)) return `scaling spec: ${key}.name "${t.name}" is not unique`;
    typeNames.add(t.name);
    if (t.accelerator !== 'gpu' && t.accelerator !== 'cpu')
      return `scaling spec: ${key}.accelerator must be "gpu" or "cpu", got ${JSON.stringify(t.accelerator)}`;
    const typeError = checkRules([
      [`${key}.costPerHour`, t.costPerHour, nonNegative, '≥ 0'],
      [`${key}.bootSeconds`, t.bootSeconds, nonNegative, '≥ 0'],
    ]);
    if (typeError) return typeError;
    if (t.maxCount !== null) {
      const countError = checkRules([[`${key}.maxCount`, t.maxCount, nonNegativeInt, 'an integer ≥ 0 or null']]);
      if (countError) return countError;
    }
    if (!t.slots || typeof t.slots !== 'object') return `scaling spec: ${key}.slots must be an object of model → replicas`;
    for (const [model, slots] of Object.entries(t.slots)) {
      const slotError = checkRules([[`${key}.slots["${model}"]`, slots, positive, '> 0']]);
      if (slotError) return slotError;
    }
  }

  if (!spec.models || typeof spec.models !== 'object') return 'scaling spec: models must be an object';
  for (const name of Object.keys(spec.models).sort()) {
    const m = spec.models[name];
    const key = `models["${name}"]`;
    if (m?.metric !== 'concurrency' && m?.metric !== 'rps')
      return `scaling spec: ${key}.metric must be "concurrency" or "rps", got ${JSON.stringify(m?.metric)}`;
    const modelError = checkRules([
      [`${key}.targetConcurrencyPerReplica`, m?.targetConcurrencyPerReplica, positive, '> 0'],
      [`${key}.targetUtilization`, m?.targetUtilization, (v) => v > 0 && v <= 1, 'in (0, 1]'],
      [
        `${key}.maxUtilization`,
        m?.maxUtilization,
        (v) => v >= m.targetUtilization && v <= 1,
        `in [targetUtilization (${m?.targetUtilization}), 1]`,
      ],
      [`${key}.replicaRequestsPerSecond`, m?.replicaRequestsPerSecond, positive, '> 0'],
      [`${key}.minReplicas`, m?.minReplicas, nonNegativeInt, 'an integer ≥ 0'],
      [
        `${key}.maxReplicas`,
        m?.maxReplicas,
        (v) => Number.isInteger(v) && v >= m.minReplicas,
        `an integer ≥ minReplicas (${m?.minReplicas})`,
      ],
    ]);
    if (modelError) return modelError;
    if ((m.batchRequestsPerReplicaPerSecond ?? null) !== null) {
      const batchError = checkRules([
        [`${key}.batchRequestsPerReplicaPerSecond`, m.batchRequestsPerReplicaPerSecond, positive, '> 0 or null'],
      ]);
      if (batchError) return batchError;
    }
    if (c.vmTypes.length > 0 && !c.vmTypes.some((t) => (t.slots[name] ?? 0) > 0)) {
      return `scaling spec: models["${name}"] fits no VM type; add it to some capacity.vmTypes[].slots`;
    }
  }
  return undefined;
}
