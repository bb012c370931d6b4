import type { ForecastPublished, MetricAggregated } from '@maas/contracts';
import { bootHorizonSeconds, DemandOutlook, ModelObservation, ScalingObservation, ScalingSpec, toVmObservation, VmRecord } from '@maas/scaling';

/** A forecast as the planner reads it: rates per step ending at `t` (seconds), the upper band as published. */
export function toOutlook(f: ForecastPublished): DemandOutlook {
  if (f.points.length === 0) return { valid: false, reason: `forecast ${f.forecastId} has no points` };
  return {
    valid: true,
    stepSeconds: f.stepSeconds,
    points: f.points.map((p) => ({ t: Date.parse(p.at) / 1000, value: p.requestRate, upper: p.upper })),
    model: f.method,
  };
}

/** Only the steps that overlap (now, now + boot horizon] matter; the rest would bloat every record. */
function relevantOutlook(outlook: DemandOutlook, spec: ScalingSpec, model: string, now: number): DemandOutlook {
  if (!outlook.valid) return outlook;
  const horizon = bootHorizonSeconds(spec.capacity, model);
  return { ...outlook, points: outlook.points.filter((p) => p.t > now && p.t - outlook.stepSeconds <= now + horizon) };
}

export interface ObservationInputs {
  readonly spec: ScalingSpec;
  /** The latest aggregate per model. */
  readonly aggregates: readonly MetricAggregated[];
  /** The latest forecast per model. */
  readonly forecasts: readonly ForecastPublished[];
  /** The provider's nodes that have not ended. */
  readonly vms: readonly VmRecord[];
  /** Requests a node's workers hold; null when unknown (never counted as idle). */
  readonly inFlight: (vmId: string) => number | null;
  /** Seconds. */
  readonly now: number;
  /** An aggregate whose interval ended longer ago than this is not an observation. */
  readonly maxAgeSeconds: number;
}

/**
 * What `decide` sees, for the models of the spec only. Ready replicas are the larger of the workers
 * the metrics collector saw and the slots of this provider's ready nodes (simulated nodes run no
 * workers; workers started by hand run on no node of ours).
 */
export function buildObservation(input: ObservationInputs): ScalingObservation {
  const { spec, now } = input;
  const slots = (vmType: string, model: string) => spec.capacity.vmTypes.find((t) => t.name === vmType)?.slots[model] ?? 0;
  const latest = new Map(input.aggregates.map((a) => [a.model, a]));
  const models: Record<string, ModelObservation> = {};
  for (const name of Object.keys(spec.models).sort()) {
    const readySlots = input.vms.filter((vm) => vm.model === name && vm.state === 'ready').reduce((sum, vm) => sum + slots(vm.vmType, name), 0);
    const a = latest.get(name);
    const fresh = a !== undefined && now - (Date.parse(a.intervalStart) / 1000 + a.intervalSeconds) <= input.maxAgeSeconds;
    if (!fresh) {
      models[name] = { concurrency: null, requestRate: null, readyReplicas: readySlots };
      continue;
    }
    const deadline = a.batchDeadline ? Date.parse(a.batchDeadline) / 1000 : null;
    const batch = a.batchBacklog ? { requests: a.batchBacklog, deadline: deadline !== null && Number.isFinite(deadline) ? deadline : null } : undefined;
    models[name] = { concurrency: a.concurrency, requestRate: a.requestRate, readyReplicas: Math.max(a.readyWorkers, readySlots), ...(batch ? { batch } : {}) };
  }
  const forecasts: Record<string, DemandOutlook> = {};
  for (const f of input.forecasts) {
    if (spec.models[f.model]) forecasts[f.model] = relevantOutlook(toOutlook(f), spec, f.model, now);
  }
  const vms = input.vms.map((vm) => toVmObservation(vm, input.inFlight(vm.id)));
  return Object.keys(forecasts).length > 0 ? { models, vms, forecasts } : { models, vms };
}
