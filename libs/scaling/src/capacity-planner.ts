import { duration, num, plural } from './format';
import { BatchBacklog, DemandOutlook, VmObservation, VmState } from './observation';
import { CapacityPlanSpec, ModelScalingSpec, ScalingSpec, VmTypeSpec } from './scaling-spec';

/** [time (s), target replicas]: a past target that can still be the maximum within the scale-down delay. */
export type HeldTarget = readonly [t: number, replicas: number];

/** What stage 2 remembers between decisions: recent targets per model (the scale-down delay window). */
export interface CapacityPlanState {
  readonly targets: Readonly<Record<string, readonly HeldTarget[]>>;
}

export const initialCapacityPlanState: CapacityPlanState = { targets: {} };

/** The plan for one model, with the numbers behind it. */
export interface ModelCapacity {
  /** Replicas wanted now: the largest of stage 1's demand, the forecast over the boot horizon and minReplicas. */
  readonly targetReplicas: number;
  /** The largest target of the scale-down delay window: capacity is not released below it. */
  readonly heldReplicas: number;
  /** Stage 1's needed replicas; null when it had no valid data or is not used. */
  readonly replicaDemand: number | null;
  /** Replicas the forecast needs within the boot horizon; null without a usable forecast. */
  readonly forecastReplicas: number | null;
  /** Replicas the batch backlog needs to be done by its deadline, on top of interactive demand; null when it needs none. */
  readonly batchReplicas?: number | null;
  /** With `capacity.batchPool`: batch-pool replicas wanted (what the backlog needs beyond the interactive pool's spare), and up. */
  readonly batchPool?: {
    readonly targetReplicas: number;
    readonly readyReplicas: number;
    readonly bootingReplicas: number;
    readonly reason: string;
  };
  /** Replica slots on ready VMs and on VMs still booting. */
  readonly readyReplicas: number;
  readonly bootingReplicas: number;
  readonly reason: string;
}

export interface VmStart {
  readonly vmType: string;
  readonly model: string;
  readonly count: number;
  readonly reason: string;
  /** 'batch': its workers register in the model's batch pool (no interactive traffic); absent: the interactive pool. */
  readonly pool?: 'batch';
}

/** Stop routing new work to a VM; it is stopped once its in-flight requests are done. */
export interface VmDrain {
  readonly vmId: string;
  readonly vmType: string;
  readonly model: string;
  readonly reason: string;
}

export interface VmStop {
  readonly vmId: string;
  readonly vmType: string;
  readonly model: string;
  readonly reason: string;
}

export interface CapacityDecision {
  readonly models: Readonly<Record<string, ModelCapacity>>;
  readonly starts: readonly VmStart[];
  readonly drains: readonly VmDrain[];
  readonly stops: readonly VmStop[];
  /** Budget limits hit, drains waiting on in-flight requests, VMs left alone. */
  readonly notes: readonly string[];
}

export interface CapacityInputs {
  /** Stage 1's needed replicas per model (before its scale-down rate limit); null when it had no valid data. */
  readonly replicaDemand: Readonly<Record<string, number | null>>;
  readonly vms: readonly VmObservation[];
  readonly forecasts?: Readonly<Record<string, DemandOutlook>>;
  /** Per model; absent when no batch work waits. */
  readonly batch?: Readonly<Record<string, BatchBacklog | undefined>>;
}

export interface CapacityStep {
  readonly decision: CapacityDecision;
  readonly nextState: CapacityPlanState;
}

const EPSILON = 1e-9;
const BOOTING: ReadonlySet<VmState> = new Set(['requested', 'booting']);
/** States that cost money and count against the budget. */
const UP: ReadonlySet<VmState> = new Set(['requested', 'booting', 'ready', 'draining', 'stopping']);

interface ForecastNeed {
  readonly replicas: number;
  readonly rate: number;
  /** Seconds from now until the step that needs it begins (0: the current step). */
  readonly inSeconds: number;
  readonly band: string;
}

/** Seconds a VM started now for `model` may take to serve, plus the margin: how far ahead to plan. */
export function bootHorizonSeconds(capacity: CapacityPlanSpec, model: string): number {
  let boot = 0;
  for (const t of capacity.vmTypes) if ((t.slots[model] ?? 0) > 0) boot = Math.max(boot, t.bootSeconds);
  return boot + capacity.bootMarginSeconds;
}

/** Replicas needed for `rate` requests/s at `utilization` (the model's target utilization by default). */
export function replicasForRate(model: ModelScalingSpec, rate: number, utilization = model.targetUtilization): number {
  return Math.max(0, Math.ceil(rate / (model.replicaRequestsPerSecond * utilization) - EPSILON));
}

/**
 * The most replicas any forecast step within the boot horizon needs: its point value at the target
 * utilization and, with the 'upper' band, its upper quantile at the highest SLO-safe utilization
 * (a pessimistic case needs to be survivable, not comfortable).
 */
function forecastNeed(
  outlook: DemandOutlook | undefined,
  capacity: CapacityPlanSpec,
  model: ModelScalingSpec,
  horizon: number,
  now: number,
): ForecastNeed | null {
  if (capacity.forecastBand === 'off' || !outlook || !outlook.valid) return null;
  const upperName = outlook.upperQuantile ? `p${Math.round(outlook.upperQuantile * 100)}` : 'upper';
  let best: ForecastNeed | null = null;
  const consider = (replicas: number, rate: number, begins: number, band: string) => {
    if (best === null || replicas > best.replicas || (replicas === best.replicas && rate > best.rate && band === best.band)) {
      best = { replicas, rate, inSeconds: Math.max(0, begins - now), band };
    }
  };
  for (const p of outlook.points) {
    const begins = p.t - outlook.stepSeconds;
    // the step (begins, t] must overlap (now, now + horizon]; a step beginning right at the horizon counts
    if (!(p.t > now && begins <= now + horizon)) continue;
    if (Number.isFinite(p.value) && p.value >= 0) consider(replicasForRate(model, p.value), p.value, begins, 'point');
    if (capacity.forecastBand === 'upper' && Number.isFinite(p.upper) && p.upper >= 0)
      consider(replicasForRate(model, p.upper, model.maxUtilization), p.upper, begins, upperName);
  }
  return best;
}

interface BatchNeed {
  /** Replica-equivalents the backlog needs from now to be done `batchDeadlineMarginSeconds` before its deadline. */
  readonly share: number;
  readonly requests: number;
  readonly dueInSeconds: number;
}

/**
 * Batch work fills spare capacity. When its model has a batch throughput, the backlog also holds (or
 * starts, when too few are up) the replicas that finish it before its deadline: the share of replicas
 * needed in the time left after a start's boot horizon and the margin, rounded up; when no time is
 * left, every replica allowed.
 */
function batchNeed(
  backlog: BatchBacklog | undefined,
  capacity: CapacityPlanSpec,
  model: ModelScalingSpec,
  horizon: number,
  now: number,
): BatchNeed | null {
  const perReplica = model.batchRequestsPerReplicaPerSecond ?? null;
  if (!backlog || !(backlog.requests > 0) || backlog.deadline === null || perReplica === null) return null;
  const left = backlog.deadline - now - horizon - (capacity.batchDeadlineMarginSeconds ?? 0);
  const share = left > 0 ? backlog.requests / (perReplica * left) : Number.POSITIVE_INFINITY;
  return { share, requests: backlog.requests, dueInSeconds: backlog.deadline - now };
}

/** Cost per replica slot that the deficit can use (a 4-slot VM for 1 missing replica costs all 4), then faster boot, then name. */
function cheaperType(model: string, deficit: number) {
  const useful = (t: VmTypeSpec) => t.costPerHour / Math.min(t.slots[model] ?? 0, Math.max(deficit, EPSILON));
  return (a: VmTypeSpec, b: VmTypeSpec): number => {
    const byCost = useful(a) - useful(b);
    if (Math.abs(byCost) > EPSILON) return byCost;
    return a.bootSeconds - b.bootSeconds || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  };
}

/** Which ready VM to drain first: idle before busy, dear slots before cheap ones, the youngest, then by id. */
function drainOrder(types: ReadonlyMap<string, VmTypeSpec>, model: string) {
  const slotCost = (vm: VmObservation) => {
    const t = types.get(vm.vmType);
    return t ? t.costPerHour / (t.slots[model] ?? 1) : 0;
  };
  return (a: VmObservation, b: VmObservation): number =>
    (a.inFlight ?? Number.POSITIVE_INFINITY) - (b.inFlight ?? Number.POSITIVE_INFINITY) ||
    slotCost(b) - slotCost(a) ||
    b.stateSince - a.stateSince ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Stage 2: VMs from replicas. Per model, the target is the largest of stage 1's desired replicas, the
 * replicas the forecast (its upper band by default) needs at any step within the boot horizon, and
 * minReplicas. Short of the target, VMs are started on the type with the cheapest useful slot, within
 * the budget. Above it, capacity is released only after the target has stayed lower for the
 * scale-down delay and capacity exceeds it by the hysteresis fraction: booting VMs are stopped,
 * ready ones drained; a draining VM is stopped only once it reports no requests in flight.
 */
export function planCapacity(spec: ScalingSpec, state: CapacityPlanState, inputs: CapacityInputs, now: number): CapacityStep {
  const capacity = spec.capacity;
  const types = new Map(capacity.vmTypes.map((t) => [t.name, t]));
  const slotsOf = (vm: VmObservation): number => types.get(vm.vmType)?.slots[vm.model] ?? 0;
  const modelNames = Object.keys(spec.models).sort();

  let vmsUp = 0;
  let costUp = 0;
  const upByType = new Map<string, number>();
  for (const vm of inputs.vms) {
    if (!UP.has(vm.state)) continue;
    vmsUp += 1;
    costUp += types.get(vm.vmType)?.costPerHour ?? 0;
    upByType.set(vm.vmType, (upByType.get(vm.vmType) ?? 0) + 1);
  }

  const models: Record<string, ModelCapacity> = {};
  const targets: Record<string, HeldTarget[]> = {};
  const starts: VmStart[] = [];
  const drains: VmDrain[] = [];
  const stops: VmStop[] = [];
  const notes: string[] = [];

  /** VMs of the cheapest useful types for `deficit` replica slots of `model`, within the budget (counted as up). */
  const start = (model: string, deficit: number): { counts: Map<string, number>; text: string } | undefined => {
    const started = new Map<string, number>();
    while (deficit > EPSILON) {
      let choice: VmTypeSpec | undefined;
      let blocked = '';
      const compare = cheaperType(model, deficit);
      for (const t of capacity.vmTypes) {
        if ((t.slots[model] ?? 0) <= 0) continue;
        if (vmsUp + 1 > capacity.maxVms) blocked = `budget of ${plural(capacity.maxVms, 'VM')} reached`;
        else if (t.maxCount !== null && (upByType.get(t.name) ?? 0) + 1 > t.maxCount)
          blocked = `quota of ${t.maxCount} × ${t.name} reached`;
        else if (capacity.maxCostPerHour !== null && costUp + t.costPerHour > capacity.maxCostPerHour + EPSILON)
          blocked = `budget of ${num(capacity.maxCostPerHour)}/h reached (${num(costUp)}/h up)`;
        else if (!choice || compare(t, choice) < 0) choice = t;
      }
      if (!choice) {
        notes.push(`${model} short by ${plural(deficit, 'replica')}: ${blocked || 'no VM type has slots for it'}`);
        break;
      }
      started.set(choice.name, (started.get(choice.name) ?? 0) + 1);
      vmsUp += 1;
      costUp += choice.costPerHour;
      upByType.set(choice.name, (upByType.get(choice.name) ?? 0) + 1);
      deficit -= choice.slots[model];
    }
    if (started.size === 0) return undefined;
    const text = [...started.entries()]
      .map(([vmType, count]) => `${count} × ${vmType} (boot ~${duration(types.get(vmType)!.bootSeconds)})`)
      .join(' + ');
    return { counts: started, text };
  };

  /**
   * The model's batch pool: what the backlog needs by its deadline beyond the interactive pool's spare
   * replicas (up ones its interactive target does not need) is started with `pool: 'batch'`. While
   * work remains the pool is held (a start costs a boot; the backlog only shrinks); once the backlog is
   * done, booting VMs are stopped and ready ones drained.
   */
  const planBatchPool = (
    name: string,
    model: ModelScalingSpec,
    vms: readonly VmObservation[],
    backlog: BatchBacklog | undefined,
    need: BatchNeed | null,
    needReplicas: number | null,
    spare: number,
    interactiveTarget: number,
  ): NonNullable<ModelCapacity['batchPool']> => {
    let ready = 0;
    let booting = 0;
    for (const vm of vms) {
      if (vm.state === 'ready') ready += slotsOf(vm);
      else if (BOOTING.has(vm.state)) booting += slotsOf(vm);
    }
    const have = ready + booting;
    const status = `${num(ready)} ready, ${num(booting)} booting`;
    if (!backlog || !(backlog.requests > 0)) {
      const released: string[] = [];
      for (const vm of vms) {
        if (vm.state === 'ready') {
          drains.push({ vmId: vm.id, vmType: vm.vmType, model: name, reason: `${name} batch backlog done → drain batch-pool ${vm.id}` });
          released.push(`drain ${vm.id}`);
        } else if (BOOTING.has(vm.state)) {
          stops.push({
            vmId: vm.id,
            vmType: vm.vmType,
            model: name,
            reason: `${name} batch backlog done → stop batch-pool ${vm.id} while still ${vm.state}`,
          });
          released.push(`stop ${vm.id}`);
        }
      }
      const reason = `${name} batch pool: no backlog; ${status}${released.length > 0 ? ` → ${released.join(', ')}` : ''}`;
      return { targetReplicas: 0, readyReplicas: ready, bootingReplicas: booting, reason };
    }
    const beyond = need && needReplicas !== null ? Math.max(0, needReplicas - Math.max(0, spare)) : 0;
    const wanted = Math.min(beyond, Math.max(0, model.maxReplicas - interactiveTarget));
    const target = Math.max(wanted, Math.ceil(have - EPSILON));
    const pace = need
      ? `${plural(need.requests, 'request')} due in ${duration(Math.max(0, need.dueInSeconds))} need ${needReplicas}`
      : `${plural(backlog.requests, 'request')} without a deadline or batch throughput`;
    let reason = `${name} batch pool: ${pace}, ${num(Math.max(0, spare))} spare in the interactive pool; ${status}`;
    if (have < wanted - EPSILON) {
      const started = start(name, wanted - have);
      if (started) {
        reason = `${reason} → start ${started.text} for batch`;
        for (const [vmType, count] of started.counts) starts.push({ vmType, model: name, count, reason, pool: 'batch' });
      }
    } else if (have > wanted + EPSILON) {
      reason = `${reason}; held until the backlog is done`;
    }
    return { targetReplicas: target, readyReplicas: ready, bootingReplicas: booting, reason };
  };

  for (const name of modelNames) {
    const model = spec.models[name];
    const pooled = capacity.batchPool === true;
    const ofModel = inputs.vms.filter((vm) => vm.model === name && types.has(vm.vmType));
    // with a batch pool, the interactive plan below sees only the interactive pool's VMs
    const mine = pooled ? ofModel.filter((vm) => vm.pool !== 'batch') : ofModel;
    const batchVms = pooled ? ofModel.filter((vm) => vm.pool === 'batch') : [];
    let ready = 0;
    let booting = 0;
    for (const vm of mine) {
      if (vm.state === 'ready') ready += slotsOf(vm);
      else if (BOOTING.has(vm.state)) booting += slotsOf(vm);
    }
    const stage1 = inputs.replicaDemand[name];
    const replicaDemand = capacity.useReplicaDemand && typeof stage1 === 'number' ? stage1 : null;
    // no valid stage-1 data: keep what is there, never release on silence
    const frozen = capacity.useReplicaDemand && replicaDemand === null;
    const horizon = bootHorizonSeconds(capacity, name);
    const fc = forecastNeed(inputs.forecasts?.[name], capacity, model, horizon, now);

    let target = model.minReplicas;
    let driver = `minReplicas ${model.minReplicas}`;
    if (frozen && ready + booting > target) {
      target = Math.ceil(ready + booting - EPSILON);
      driver = `no valid ${model.metric === 'rps' ? 'request-rate' : 'concurrency'} data, holding ${num(ready + booting)}`;
    }
    if (replicaDemand !== null && replicaDemand > target) {
      target = replicaDemand;
      driver = `${model.metric === 'rps' ? 'request rate' : 'concurrency'} needs ${replicaDemand}`;
    }
    if (fc && fc.replicas > target) {
      target = fc.replicas;
      driver = `forecast ${fc.band === 'point' ? '' : `${fc.band} `}${num(fc.rate)} req/s ${fc.inSeconds > 0 ? `in ${duration(fc.inSeconds)}` : 'now'} needs ${fc.replicas}`;
    }
    // batch work runs on what interactive demand leaves spare; it only holds or adds the replicas its deadline needs
    const bn = batchNeed(inputs.batch?.[name], capacity, model, horizon, now);
    const interactive = Math.max(replicaDemand ?? 0, fc?.replicas ?? 0);
    const batchReplicas = bn ? (Number.isFinite(bn.share) ? Math.ceil(bn.share - EPSILON) : model.maxReplicas) : null;
    if (!pooled && bn && batchReplicas !== null && interactive + batchReplicas > target) {
      target = interactive + batchReplicas;
      const pace = Number.isFinite(bn.share) ? `${num(bn.share)} replicas to be done in time` : 'late: every replica allowed';
      driver = `batch backlog of ${plural(bn.requests, 'request')} due in ${duration(Math.max(0, bn.dueInSeconds))} (${pace})${interactive > 0 ? ` on top of ${interactive} for interactive demand` : ''} needs ${target}`;
    }
    if (pooled && bn && batchReplicas !== null) {
      // the interactive pool's spare replicas run batch work: they are kept (not started) for it, the batch pool adds the rest
      const keep = Math.min(Math.floor(ready + booting + EPSILON), interactive + batchReplicas);
      if (keep > target) {
        target = keep;
        driver = `batch backlog of ${plural(bn.requests, 'request')} due in ${duration(Math.max(0, bn.dueInSeconds))} keeps ${keep - interactive} spare${interactive > 0 ? ` on top of ${interactive} for interactive demand` : ''}: ${keep}`;
      }
    }
    target = Math.min(target, model.maxReplicas);

    // scale-down delay: the largest target of the window, kept as a decreasing run of candidates
    const window = (state.targets[name] ?? []).filter(([t]) => t > now - capacity.scaleDownDelaySeconds);
    while (window.length > 0 && window[window.length - 1][1] <= target) window.pop();
    window.push([now, target]);
    targets[name] = window;
    const held = window[0][1];

    const have = ready + booting;
    const status = `${num(ready)} ready, ${num(booting)} booting`;
    let reason = `${driver} ${name} replica${target === 1 ? '' : 's'}; ${status}`;

    if (have < target - EPSILON) {
      const started = start(name, target - have);
      if (started) {
        reason = `${reason} → start ${started.text}`;
        for (const [vmType, count] of started.counts) starts.push({ vmType, model: name, count, reason });
      }
    } else if (!frozen && have > held * (1 + capacity.scaleDownHysteresis) + EPSILON && have > held + EPSILON) {
      // release booting VMs first (they serve nothing yet, latest first), then drain idle, dear, young ones
      const candidates = [
        ...mine
          .filter((vm) => BOOTING.has(vm.state) && !(vm.inFlight !== null && vm.inFlight > 0))
          .sort((a, b) => b.requestedAt - a.requestedAt || (a.id < b.id ? 1 : -1)),
        ...mine.filter((vm) => vm.state === 'ready').sort(drainOrder(types, name)),
      ];
      let remaining = have;
      const released: string[] = [];
      const why = `${name} needs ${held}${held > target ? ` (held for ${duration(capacity.scaleDownDelaySeconds)}; now ${target})` : ''}; ${status}`;
      for (const vm of candidates) {
        const slots = slotsOf(vm);
        if (remaining - slots < held - EPSILON) continue;
        remaining -= slots;
        if (vm.state === 'ready') {
          drains.push({
            vmId: vm.id,
            vmType: vm.vmType,
            model: name,
            reason: `${why} → drain ${vm.id}${vm.inFlight ? ` (${vm.inFlight} in flight)` : ''}`,
          });
          released.push(`drain ${vm.id}`);
        } else {
          stops.push({ vmId: vm.id, vmType: vm.vmType, model: name, reason: `${why} → stop ${vm.id} while still ${vm.state}` });
          released.push(`stop ${vm.id}`);
        }
      }
      if (released.length > 0) reason = `${why} → ${released.join(', ')}`;
    } else if (have > target + EPSILON) {
      reason = frozen
        ? `${reason}; nothing released without valid data`
        : `${reason}; keeping ${num(have)}: need ${held} within the last ${duration(capacity.scaleDownDelaySeconds)}, release above ${num(held * (1 + capacity.scaleDownHysteresis))}`;
    }

    const batchPool = pooled
      ? planBatchPool(name, model, batchVms, inputs.batch?.[name], bn, batchReplicas, ready + booting - interactive, target)
      : undefined;

    models[name] = {
      targetReplicas: target,
      heldReplicas: held,
      replicaDemand,
      forecastReplicas: fc ? fc.replicas : null,
      ...(batchReplicas !== null ? { batchReplicas } : {}),
      ...(batchPool ? { batchPool } : {}),
      readyReplicas: ready,
      bootingReplicas: booting,
      reason,
    };
  }

  // a draining VM stops once idle and past the minimum drain time; never with requests in flight
  for (const vm of inputs.vms) {
    if (vm.state !== 'draining') continue;
    const drainedFor = now - vm.stateSince;
    if (vm.inFlight === 0 && drainedFor >= capacity.minDrainSeconds) {
      stops.push({
        vmId: vm.id,
        vmType: vm.vmType,
        model: vm.model,
        reason: `${vm.id} drained for ${duration(drainedFor)} with no requests in flight → stop`,
      });
    } else if (vm.inFlight === null) {
      notes.push(`${vm.id} draining for ${duration(drainedFor)}; in-flight count unknown, not stopping`);
    } else if (vm.inFlight > 0) {
      notes.push(`${vm.id} draining for ${duration(drainedFor)}; waiting for ${plural(vm.inFlight, 'request')} in flight`);
    }
  }
  const unmanaged = inputs.vms.filter((vm) => UP.has(vm.state) && (!types.has(vm.vmType) || !spec.models[vm.model]));
  if (unmanaged.length > 0) notes.push(`left alone (type or model not in the spec): ${unmanaged.map((vm) => vm.id).join(', ')}`);

  return { decision: { models, starts, drains, stops, notes }, nextState: { targets } };
}
