/**
 * One scaling policy over the trace: a pool of replicas on simulated VMs, fed every arrival, with the
 * policy's `decide` every tick applied to a SimulatedCapacityProvider.
 *
 * Serving is an analytic approximation calibrated on the engine simulator (calibration.ts):
 * - the replicas of a model form one pool; each request brings replica-seconds of work (from its
 *   prompt and output tokens, scaled so one replica completes `capacity` requests per second);
 * - the work not yet done is a fluid backlog drained at one replica-second per serving replica per
 *   second (Lindley's recursion); a request first waits backlog / replicas;
 * - its TTFT is that wait plus a draw from the engine's measured TTFT distribution at the pool's
 *   utilisation (arrival rate / (replicas × capacity), the table's last row beyond 95 %);
 * - its latency adds output tokens × the measured time per output token at that utilisation.
 * Requests are spread round-robin over serving VMs only to know when each VM's last one ends
 * (a draining VM is stopped only after that).
 */
import {
  DemandOutlook,
  decide,
  initialScalingState,
  ScalingSpec,
  ScalingState,
  SimulatedCapacityProvider,
  VmObservation,
} from '@maas/scaling';
import { QUANTILE_COUNT, ServiceModel, UTILISATION_GRID } from './calibration';

export type ForecastSource = 'none' | 'learned' | 'oracle';

export interface PolicyDefinition {
  readonly name: string;
  readonly description: string;
  /** Undefined: a fixed fleet that never scales. */
  readonly spec?: ScalingSpec;
  readonly forecast: ForecastSource;
  readonly initialVms: number;
}

interface SimVm {
  readonly id: string;
  readonly vmType: string;
  readonly requestedAt: number;
  /** Boot done + model loaded; undefined while booting. */
  servingAt: number | undefined;
  serving: boolean;
  draining: boolean;
  stateSince: number;
  /** When the last request routed to it finishes. */
  busyUntil: number;
}

/** Log-spaced TTFT histogram, 10 ms to ~3 h, for percentiles. */
const HIST_MIN = 0.01;
const HIST_PER_DECADE = 40;
const HIST_BINS = 6 * HIST_PER_DECADE + 2;

export interface PolicyTotals {
  readonly requests: number;
  readonly withinSlo: number;
  readonly coldStartWaits: number;
  readonly vmStarts: number;
  readonly vmDrains: number;
  readonly vmStops: number;
  readonly failedBoots: number;
  readonly vmHours: number;
  readonly peakVms: number;
  readonly ttftP50: number;
  readonly ttftP99: number;
  readonly decisions: number;
  readonly invalidDecisions: number;
  /** Per simulated day: requests, SLO misses, VM-hours. */
  readonly days: ReadonlyArray<{ readonly requests: number; readonly misses: number; readonly vmHours: number }>;
}

export class PolicyRun {
  readonly provider: SimulatedCapacityProvider;
  private readonly vms = new Map<string, SimVm>();
  private serving: SimVm[] = [];
  private rr = 0;
  private state: ScalingState = initialScalingState;
  private backlog = 0;
  private lastArrival = 0;
  // per tick, fixed while the tick's arrivals are served
  private rho = 0;
  private gridRow = 0;
  private gridFrac = 0;
  private tpot = 0;
  private tickArrivals = 0;
  private tickLatency = 0;
  // totals
  private requests = 0;
  private withinSlo = 0;
  private coldStartWaits = 0;
  private vmStarts = 0;
  private vmDrains = 0;
  private vmStops = 0;
  private failedBoots = 0;
  private peakVms = 0;
  private decisions = 0;
  private invalidDecisions = 0;
  private readonly hist = new Float64Array(HIST_BINS);
  private lastReason = '';
  private readonly days: Array<{ requests: number; misses: number; vmHours: number }> = [];
  private dayRequests = 0;
  private dayMisses = 0;
  private dayStartVmSeconds = 0;

  constructor(
    readonly policy: PolicyDefinition,
    private readonly model: string,
    private readonly vmType: string,
    private readonly service: ServiceModel,
    private readonly sloSeconds: number,
    private readonly coldWaitSeconds: number,
    seed: number,
    bootSeconds: { min: number; max: number },
    failureProbability: number,
  ) {
    this.provider = new SimulatedCapacityProvider({ seed, bootSeconds, failureProbability, idPrefix: policy.name });
    for (let i = 0; i < policy.initialVms; i += 1) {
      const record = this.provider.startVm({ vmType, model, reason: 'initial fleet' }, 0, { ready: true });
      const vm: SimVm = {
        id: record.id,
        vmType,
        requestedAt: 0,
        servingAt: 0,
        serving: true,
        draining: false,
        stateSince: 0,
        busyUntil: 0,
      };
      this.vms.set(vm.id, vm);
      this.serving.push(vm);
    }
    this.vmStarts = policy.initialVms;
    this.peakVms = policy.initialVms;
  }

  /** Serving replicas now. */
  get replicas(): number {
    return this.serving.length;
  }

  /** One line of the current state, for --trace. */
  describe(now: number): string {
    const booting = [...this.vms.values()].filter((vm) => !vm.serving && !vm.draining).length;
    const draining = [...this.vms.values()].filter((vm) => vm.draining).length;
    return `t=${(now / 3600).toFixed(3)} h ${this.policy.name}: serving ${this.serving.length}, booting ${booting}, draining ${draining}, rho ${this.rho.toFixed(2)}, queue wait ${(this.backlog / Math.max(1, this.serving.length)).toFixed(1)} s | ${this.lastReason}`;
  }

  /** Fixes the utilisation-dependent service terms for the arrivals of the coming tick. */
  beginTick(rate: number): void {
    const c = this.serving.length;
    this.rho = c > 0 ? rate / (c * this.service.capacity) : Number.POSITIVE_INFINITY;
    const grid = UTILISATION_GRID;
    const x = Math.min(Math.max(this.rho, grid[0]), grid[grid.length - 1]);
    this.gridRow = Math.min(grid.length - 2, Math.floor((x - grid[0]) / 0.05 + 1e-9));
    this.gridFrac = (x - grid[this.gridRow]) / (grid[this.gridRow + 1] - grid[this.gridRow]);
    const rows = this.service.rows;
    this.tpot = rows[this.gridRow].tpot * (1 - this.gridFrac) + rows[this.gridRow + 1].tpot * this.gridFrac;
  }

  /** One request arriving at `t` with `work` replica-seconds to do; `u` is its uniform draw from the TTFT distribution. */
  arrive(t: number, work: number, outputTokens: number, u: number, tickSeconds: number): void {
    const c = this.serving.length;
    if (t > this.lastArrival) {
      this.backlog -= c * (t - this.lastArrival);
      if (this.backlog < 0) this.backlog = 0;
      this.lastArrival = t;
    }
    this.requests += 1;
    this.dayRequests += 1;
    this.tickArrivals += 1;
    if (c === 0) {
      // nothing serves: it waits at least for a boot, far beyond the SLO
      this.coldStartWaits += 1;
      this.dayMisses += 1;
      this.backlog += work;
      this.tickLatency += tickSeconds;
      this.hist[HIST_BINS - 1] += 1;
      return;
    }
    const wait = this.backlog / c;
    const table = this.service.ttftQuantiles;
    const qf = u * (QUANTILE_COUNT - 1);
    const q = qf >= QUANTILE_COUNT - 1 ? QUANTILE_COUNT - 2 : Math.floor(qf);
    const fq = qf - q;
    const j = this.gridRow;
    const a = table[j * QUANTILE_COUNT + q] * (1 - fq) + table[j * QUANTILE_COUNT + q + 1] * fq;
    const b = table[(j + 1) * QUANTILE_COUNT + q] * (1 - fq) + table[(j + 1) * QUANTILE_COUNT + q + 1] * fq;
    const ttft = wait + a * (1 - this.gridFrac) + b * this.gridFrac;
    if (ttft <= this.sloSeconds) this.withinSlo += 1;
    else this.dayMisses += 1;
    if (wait >= this.coldWaitSeconds) this.coldStartWaits += 1;
    const bin = ttft <= HIST_MIN ? 0 : Math.min(HIST_BINS - 1, 1 + Math.floor(Math.log10(ttft / HIST_MIN) * HIST_PER_DECADE));
    this.hist[bin] += 1;
    this.backlog += work;
    const latency = ttft + (outputTokens - 1) * this.tpot;
    this.tickLatency += latency;
    const vm = this.serving[this.rr >= c ? (this.rr = 0) : this.rr];
    this.rr += 1;
    if (vm.busyUntil < t + latency) vm.busyUntil = t + latency;
  }

  /** End of a tick at `now`: boots progress, then the policy decides and its decision is applied. */
  endTick(now: number, tickSeconds: number, outlook: DemandOutlook | undefined): void {
    const concurrency = this.tickLatency / tickSeconds;
    const requestRate = this.tickArrivals / tickSeconds;
    this.tickLatency = 0;
    this.tickArrivals = 0;
    for (const event of this.provider.advance(now)) {
      const vm = this.vms.get(event.vmId);
      if (!vm) continue;
      if (event.to === 'ready') {
        vm.servingAt = event.at + this.service.startupSeconds;
        vm.stateSince = vm.servingAt;
      } else if (event.to === 'failed') {
        this.failedBoots += 1;
        this.vms.delete(vm.id);
      }
    }
    for (const vm of this.vms.values()) {
      if (!vm.serving && !vm.draining && vm.servingAt !== undefined && vm.servingAt <= now) {
        vm.serving = true;
        this.serving.push(vm);
      }
    }
    const spec = this.policy.spec;
    if (!spec) return;

    const perVm = this.serving.length > 0 ? Math.max(1, Math.round(concurrency / this.serving.length)) : 1;
    const vms: VmObservation[] = [];
    for (const vm of this.vms.values()) {
      vms.push({
        id: vm.id,
        vmType: vm.vmType,
        model: this.model,
        state: vm.draining ? 'draining' : vm.serving ? 'ready' : 'booting',
        requestedAt: vm.requestedAt,
        stateSince: vm.stateSince,
        inFlight: vm.busyUntil > now ? perVm : 0,
      });
    }
    const observation = {
      models: { [this.model]: { concurrency, readyReplicas: this.serving.length, requestRate } },
      vms,
      ...(outlook ? { forecasts: { [this.model]: outlook } } : {}),
    };
    const { decision, nextState } = decide(spec, this.state, observation, now);
    this.state = nextState;
    this.decisions += 1;
    const r = decision.replicas[this.model];
    this.lastReason = `${r?.reason ?? ''} || ${decision.capacity.models[this.model]?.reason ?? ''}`;
    if (!decision.replicas[this.model]?.valid) this.invalidDecisions += 1;

    for (const start of decision.capacity.starts) {
      for (let i = 0; i < start.count; i += 1) {
        const record = this.provider.startVm({ vmType: start.vmType, model: start.model, reason: start.reason }, now);
        this.vms.set(record.id, {
          id: record.id,
          vmType: start.vmType,
          requestedAt: now,
          servingAt: undefined,
          serving: false,
          draining: false,
          stateSince: now,
          busyUntil: 0,
        });
        this.vmStarts += 1;
      }
    }
    let removed = false;
    for (const drain of decision.capacity.drains) {
      const vm = this.vms.get(drain.vmId);
      if (!vm || !vm.serving) continue;
      this.provider.drainVm(vm.id, now, drain.reason);
      vm.draining = true;
      vm.serving = false;
      vm.stateSince = now;
      removed = true;
      this.vmDrains += 1;
    }
    for (const stop of decision.capacity.stops) {
      const vm = this.vms.get(stop.vmId);
      if (!vm) continue;
      // the bench checks the invariant the planner promises
      if (vm.busyUntil > now) throw new Error(`${this.policy.name}: ${vm.id} stopped with requests in flight at t=${now}`);
      this.provider.stopVm(vm.id, now, stop.reason);
      if (vm.serving) removed = true;
      this.vms.delete(vm.id);
      this.vmStops += 1;
    }
    if (removed) this.serving = this.serving.filter((vm) => vm.serving && this.vms.has(vm.id));
    if (this.vms.size > this.peakVms) this.peakVms = this.vms.size;
  }

  /** Closes the simulated day ending at `now`. */
  endDay(now: number): void {
    const vmSeconds = Object.values(this.provider.usage(now)).reduce((a, b) => a + b, 0);
    this.days.push({ requests: this.dayRequests, misses: this.dayMisses, vmHours: (vmSeconds - this.dayStartVmSeconds) / 3600 });
    this.dayRequests = 0;
    this.dayMisses = 0;
    this.dayStartVmSeconds = vmSeconds;
  }

  totals(end: number): PolicyTotals {
    const usage = this.provider.usage(end);
    const vmSeconds = Object.values(usage).reduce((a, b) => a + b, 0);
    const percentile = (p: number): number => {
      const target = p * this.requests;
      let seen = 0;
      for (let i = 0; i < HIST_BINS; i += 1) {
        seen += this.hist[i];
        if (seen >= target) return i === 0 ? HIST_MIN : HIST_MIN * Math.pow(10, i / HIST_PER_DECADE);
      }
      return Number.POSITIVE_INFINITY;
    };
    return {
      requests: this.requests,
      withinSlo: this.withinSlo,
      coldStartWaits: this.coldStartWaits,
      vmStarts: this.vmStarts,
      vmDrains: this.vmDrains,
      vmStops: this.vmStops,
      failedBoots: this.failedBoots,
      vmHours: vmSeconds / 3600,
      peakVms: this.peakVms,
      ttftP50: percentile(0.5),
      ttftP99: percentile(0.99),
      decisions: this.decisions,
      invalidDecisions: this.invalidDecisions,
      days: this.days,
    };
  }
}
