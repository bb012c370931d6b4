/**
 * The policies the scaling benchmark compares, each a ScalingSpec of @maas/scaling (so any of them can
 * be replayed or diffed against another), plus `--set policy.section.key=value` overrides.
 */
import { ModelScalingSpec, resolveScalingSpec, ScalingSpec, ScalingSpecOverrides, VmTypeSpec } from '@maas/scaling';
import { ServiceModel } from './calibration';
import { PolicyDefinition } from './policy-run';

export interface PolicyContext {
  readonly model: string;
  readonly vmType: string;
  readonly service: ServiceModel;
  readonly peakReplicas: number;
  readonly targetUtilisation: number;
  readonly maxUtilisation: number;
  readonly targetConcurrency: number;
  /** Slowest VM boot; the model load comes on top. */
  readonly bootMaxSeconds: number;
  readonly initialVms: number;
  readonly sets: readonly string[];
}

export interface PolicySet {
  readonly policies: PolicyDefinition[];
  /** Request to serving, worst case: the planner's boot time for the VM type. */
  readonly bootToServing: number;
  readonly bootMarginSeconds: number;
}

/** Resolves a policy's spec after the `--set` overrides addressed to it (`capacity.x`, `replicas.x`, `model.x`). */
export function buildSpec(
  policy: string,
  base: { model: string; modelSpec: Partial<ModelScalingSpec>; capacity: ScalingSpecOverrides['capacity'] },
  sets: readonly string[],
): ScalingSpec {
  const sections: Record<string, Record<string, unknown>> = { capacity: { ...base.capacity }, replicas: {}, model: { ...base.modelSpec } };
  for (const set of sets) {
    const match = /^([^.=]+)\.([^.=]+)\.([^=]+)=(.*)$/.exec(set);
    if (!match) throw new Error(`bench/scaling: --set ${set}: expected POLICY.SECTION.KEY=VALUE`);
    const [, target, section, key, raw] = match;
    if (target !== policy) continue;
    if (!sections[section]) throw new Error(`bench/scaling: --set ${set}: section must be capacity, replicas or model`);
    sections[section][key] =
      raw === 'true' ? true : raw === 'false' ? false : raw === 'null' ? null : Number.isNaN(Number(raw)) ? raw : Number(raw);
  }
  const check = resolveScalingSpec({
    models: { [base.model]: sections.model },
    capacity: sections.capacity,
    replicas: sections.replicas,
  } as ScalingSpecOverrides);
  if (!check.ok) throw new Error(`${policy}: ${check.error}`);
  return check.spec;
}

export function definePolicies(context: PolicyContext): PolicySet {
  const { model, service, sets } = context;
  const bootToServing = context.bootMaxSeconds + service.startupSeconds;
  const bootMarginSeconds = 60;
  const maxVms = context.peakReplicas * 3;
  const gpu: VmTypeSpec = {
    name: context.vmType,
    accelerator: 'gpu',
    costPerHour: 3,
    bootSeconds: bootToServing,
    slots: { [model]: 1 },
    maxCount: null,
  };
  const modelSpec: Partial<ModelScalingSpec> = {
    metric: 'rps',
    targetConcurrencyPerReplica: context.targetConcurrency,
    targetUtilization: context.targetUtilisation,
    maxUtilization: context.maxUtilisation,
    replicaRequestsPerSecond: service.capacity,
    minReplicas: 1,
    maxReplicas: maxVms,
  };
  const capacity = { vmTypes: [gpu], maxVms, bootMarginSeconds };
  const spec = (policy: string, capacityOverrides: ScalingSpecOverrides['capacity'], modelOverrides: Partial<ModelScalingSpec> = {}) =>
    buildSpec(policy, { model, modelSpec: { ...modelSpec, ...modelOverrides }, capacity: { ...capacity, ...capacityOverrides } }, sets);
  const initialVms = context.initialVms;
  const policies: PolicyDefinition[] = [
    {
      name: 'static-peak',
      description: `${context.peakReplicas} VMs all the time (sized for the peak)`,
      forecast: 'none',
      initialVms: context.peakReplicas,
    },
    {
      name: 'reactive',
      description: 'stage 1 (KPA on request rate) + VMs for its replicas; 10 min scale-down delay (cluster-autoscaler default)',
      spec: spec('reactive', { forecastBand: 'off', scaleDownDelaySeconds: 600, scaleDownHysteresis: 0.1 }),
      forecast: 'none',
      initialVms,
    },
    {
      name: 'predictive',
      description:
        'reactive + online forecast over the boot horizon (point at the target utilisation, p90 at the SLO-safe one); 2 min scale-down delay',
      spec: spec('predictive', { forecastBand: 'upper', scaleDownDelaySeconds: 120, scaleDownHysteresis: 0.1 }),
      forecast: 'learned',
      initialVms,
    },
    {
      name: 'oracle',
      description: 'the true future rate over the boot horizon at the target utilisation; no reactive term, no scale-down delay',
      spec: spec('oracle', { forecastBand: 'value', useReplicaDemand: false, scaleDownDelaySeconds: 0, scaleDownHysteresis: 0 }),
      forecast: 'oracle',
      initialVms,
    },
    {
      name: 'reactive-concurrency',
      description: 'reactive with KPA on concurrency (Knative default metric), for reference',
      spec: spec(
        'reactive-concurrency',
        { forecastBand: 'off', scaleDownDelaySeconds: 600, scaleDownHysteresis: 0.1 },
        { metric: 'concurrency' },
      ),
      forecast: 'none',
      initialVms,
    },
  ];
  return { policies, bootToServing, bootMarginSeconds };
}
