import type { ForecastPublished, MetricAggregated } from '@maas/contracts';
import {
  bootHorizonSeconds,
  DemandOutlook,
  ModelObservation,
  ScalingObservation,
  ScalingSpec,
  toVmObservation,
  VmRecord,
} from '@maas/scaling';

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
  /** Requests the gateways hold for a worker of the model now (their activators' reports); none when absent. */
  readonly pending?: (model: string) => number;
}

/** Held requests read as arrivals over one metrics interval, for models scaled on request rate. */
export const PENDING_RATE_WINDOW_SECONDS = 10;

/**
 * An observation with the requests gateways hold added in: each is in flight (concurrency) and has
 * arrived (request rate), so a model at zero replicas with a held request needs at least one — at
 * once, with no aggregate to wait for (Knative's activator poking the autoscaler).
 */
export function withPending(o: ModelObservation, held: number): ModelObservation {
  if (held <= 0) return o;
  return {
    ...o,
    concurrency: Math.max(o.concurrency ?? 0, held),
    requestRate: Math.max(o.requestRate ?? 0, held / PENDING_RATE_WINDOW_SECONDS),
  };
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
    const readySlots = input.vms
      .filter((vm) => vm.model === name && vm.state === 'ready')
      .reduce((sum, vm) => sum + slots(vm.vmType, name), 0);
    const a = latest.get(name);
    const fresh = a !== undefined && now - (Date.parse(a.intervalStart) / 1000 + a.intervalSeconds) <= input.maxAgeSeconds;
    const held = input.pending?.(name) ?? 0;
    if (!fresh) {
      models[name] = withPending({ concurrency: null, requestRate: null, readyReplicas: readySlots }, held);
      continue;
    }
    const deadline = a.batchDeadline ? Date.parse(a.batchDeadline) / 1000 : null;
    const batch = a.batchBacklog
      ? { requests: a.batchBacklog, deadline: deadline !== null && Number.isFinite(deadline) ? deadline : null }
      : undefined;
    models[name] = withPending(
      {
        concurrency: a.concurrency,
        requestRate: a.requestRate,
        readyReplicas: Math.max(a.readyWorkers, readySlots),
        ...(batch ? { batch } : {}),
      },
      held,
    );
  }
  const forecasts: Record<string, DemandOutlook> = {};
  for (const f of input.forecasts) {
    if (spec.models[f.model]) forecasts[f.model] = relevantOutlook(toOutlook(f), spec, f.model, now);
  }
  const vms = input.vms.map((vm) => toVmObservation(vm, input.inFlight(vm.id)));
  return Object.keys(forecasts).length > 0 ? { models, vms, forecasts } : { models, vms };
}
