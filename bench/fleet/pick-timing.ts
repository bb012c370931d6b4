import { performance } from 'node:perf_hooks';
import { loadConfig } from '@maas/config';
import {
  BatchLaneSpec,
  batchLaneFilter,
  batchPoolFilter,
  buildRoutingPolicy,
  Endpoint,
  interactiveLaneFilter,
  PrefixBlock,
  promptBlocks,
  RoutingPipeline,
  RoutingRequest,
  routingPresets,
} from '@maas/routing';
import { mulberry32 } from '@maas/random';
import { seededRng } from '@maas/scaling';
import { referenceRouter } from '../../libs/routing/src/testing/reference-routing';
import { gatewayConfigSpec } from '../../services/gateway/src/gateway.config';
import { percentile } from '../lib/stats';

export interface PickTiming {
  readonly endpoints: number;
  readonly picks: number;
  readonly preset: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** What the requests carry: the gateway's request as it is built today, or a conversation's prompt blocks. */
export type PickWorkload = 'gateway' | 'prefix';

export interface PickComparison {
  readonly endpoints: number;
  readonly workload: PickWorkload;
  readonly preset: string;
  readonly picks: number;
  /** The plain per-endpoint implementation (libs/routing/src/testing/reference-routing.ts): the baseline. */
  readonly reference: PickStats;
  /** The pipeline the gateway runs. */
  readonly pipeline: PickStats;
  /** Picks on which both chose the same worker (or both refused with the same reason), of `compared`. */
  readonly samePicks: number;
  readonly compared: number;
  /** reference ÷ pipeline. */
  readonly ratios: { readonly p50: number; readonly p99: number; readonly onCpuP99: number; readonly mean: number };
}

export interface PickStats {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly meanMs: number;
  /** Share of picks during which the process was off the CPU (wall time over its CPU time by more than `OFF_CPU_MS`). */
  readonly interrupted: number;
  /** p99 of the other picks: what the code costs when the machine's other work does not preempt it. */
  readonly onCpuP99Ms: number;
}

/** Wall time beyond the process's CPU time that marks a pick as preempted (a time slice is milliseconds). */
const OFF_CPU_MS = 0.02;

/** One timed call: wall ms and the process's CPU ms around it. */
function timed(run: () => void, wall: number[], cpu: number[]): void {
  const c0 = process.cpuUsage();
  const began = performance.now();
  run();
  const took = performance.now() - began;
  const c = process.cpuUsage(c0);
  wall.push(took);
  cpu.push((c.user + c.system) / 1000);
}

/**
 * The gateway's pick, as RoutingService builds it: its default preset with the batch-lane,
 * batch-pool and interactive-lane filters ahead, from the gateway's own config defaults (adaptive
 * batch control: a batch limit per worker; every worker in the interactive pool).
 */
function gatewayPolicy() {
  const config = loadConfig(gatewayConfigSpec, {});
  const policy = buildRoutingPolicy(routingPresets[config.GATEWAY_ROUTING]);
  const adaptive = config.GATEWAY_BATCH_CONTROL === 'adaptive';
  const pools = new Map<string, { pool: 'interactive' | 'batch' }>();
  const limits = new Map<string, number>();
  const lanes: BatchLaneSpec = {
    minInteractive: config.GATEWAY_INTERACTIVE_LANE ?? (adaptive ? 0 : 1),
    reserve: config.GATEWAY_BATCH_RESERVE,
    concurrency: config.GATEWAY_BATCH_CONCURRENCY,
    ...(adaptive ? { batchLimit: (_model: string, workerId: string) => limits.get(workerId) } : {}),
    batchPool: (workerId: string) => pools.get(workerId)?.pool === 'batch',
  };
  const parts = policy.pipeline.parts;
  const pipeline = new RoutingPipeline({
    ...parts,
    filters: [batchLaneFilter(lanes), batchPoolFilter(lanes), interactiveLaneFilter, ...parts.filters],
  });
  // as RoutingService decides whether to hash the prompt
  const usesPrefix = policy.config.scorers.some((s) => s.name === 'prefix-affinity' && s.weight > 0);
  return { preset: config.GATEWAY_ROUTING, config: policy.config, lanes, pools, pipeline, usesPrefix };
}

/** `n` ready workers of one model with heartbeat-like loads, as the registry replica holds them. */
function fleetOf(n: number, model: string, rng: () => number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `fleet-${i}`,
    url: `http://127.0.0.1:1/w/fleet-${i}`,
    models: [model],
    capabilities: ['chat', 'completion'],
    state: 'ready',
    hardware: 'gpu',
    vmId: `vm-${Math.floor(i / 10)}`,
    capacity: 8,
    running: Math.floor(rng() * 8),
    waiting: Math.floor(rng() * 2),
    kvCacheUsage: rng(),
    outstanding: Math.floor(rng() * 3),
  }));
}

/**
 * The gateway's pick, timed in this process over `n` ready endpoints of one model, with the
 * request's prompt blocks as RoutingService.route passes them. The gateway exposes no pick histogram of its own.
 */
export function timePicks(n: number, picks: number, model: string, seed: number): PickTiming {
  const { preset, pipeline, usesPrefix } = gatewayPolicy();
  const endpoints = fleetOf(n, model, seededRng(seed));
  const messages = [{ role: 'user', content: 'How many VMs does the fleet need at its peak?' }];
  const times: number[] = [];
  for (let k = 0; k < picks + 1000; k++) {
    const began = performance.now();
    pipeline.route(
      {
        model,
        capability: 'chat',
        arrivedAt: k,
        prefixBlocks: usesPrefix ? promptBlocks(messages, { model }) : [],
        sessionKey: `s${k % 50}`,
        kind: 'interactive',
      },
      endpoints,
    );
    // the first thousand warm the JIT up
    if (k >= 1000) times.push(performance.now() - began);
  }
  times.sort((a, b) => a - b);
  return { endpoints: n, picks, preset, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) };
}

/** Shared system prompt blocks, then each session's own turns: chained ids as a trace's `hash_ids`. */
const SYSTEM_BLOCKS = [1, 2, 3, 4];
const SESSIONS = 400;

/**
 * A fleet that moves between picks, the same way for whoever routes over it: each pick lands a
 * request on one worker and finishes one elsewhere (the gateway's own count), and a heartbeat
 * replaces one worker's running/waiting/KV, as a registry replica sees 1,000 workers at 1 Hz
 * under ~1,000 picks/s. Requests come from `SESSIONS` conversations that grow by two blocks a turn.
 * Its generator's state is a plain number, so a copy moves exactly as the original will.
 */
class MovingFleet {
  constructor(
    public endpoints: Endpoint[],
    private state: number,
    private turns: Int32Array,
  ) {}

  static of(n: number, model: string, seed: number): MovingFleet {
    return new MovingFleet(fleetOf(n, model, seededRng(seed)), seed + 1, new Int32Array(SESSIONS));
  }

  clone(): MovingFleet {
    return new MovingFleet([...this.endpoints], this.state, this.turns.slice());
  }

  private next(): number {
    const step = mulberry32(this.state);
    this.state = step.state;
    return step.value;
  }

  request(k: number, model: string, workload: PickWorkload, gatewayBlocks: readonly PrefixBlock[]): RoutingRequest {
    let prefixBlocks: readonly PrefixBlock[] = gatewayBlocks;
    const session = Math.floor(this.next() * SESSIONS);
    if (workload === 'prefix') {
      const turn = Math.min(12, ++this.turns[session]);
      const own = Array.from({ length: 2 * turn }, (_, t) => 1_000 + session * 100 + t);
      prefixBlocks = [...SYSTEM_BLOCKS, ...own];
    }
    return { model, capability: 'chat', arrivedAt: 1_000 * k, prefixBlocks, sessionKey: `s${session}`, kind: 'interactive' };
  }

  move(): void {
    const e = this.endpoints;
    const up = Math.floor(this.next() * e.length);
    e[up] = { ...e[up], outstanding: e[up].outstanding + 1 };
    const down = Math.floor(this.next() * e.length);
    if (e[down].outstanding > 0) e[down] = { ...e[down], outstanding: e[down].outstanding - 1 };
    const beat = Math.floor(this.next() * e.length);
    e[beat] = { ...e[beat], running: Math.floor(this.next() * 8), waiting: Math.floor(this.next() * 2), kvCacheUsage: this.next() };
  }
}

function stats(wall: number[], cpu: number[]): PickStats {
  const sorted = [...wall].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / (sorted.length || Number.NaN);
  const onCpu = wall.filter((w, i) => w - cpu[i] <= OFF_CPU_MS).sort((a, b) => a - b);
  return {
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    p999Ms: percentile(sorted, 99.9),
    meanMs: mean,
    interrupted: 1 - onCpu.length / (wall.length || Number.NaN),
    onCpuP99Ms: percentile(onCpu, 99),
  };
}

/**
 * The machine's own noise, timed as picks are: a fixed loop of arithmetic costing about `us`
 * microseconds. Its wall p99 over its p50 is what preemption alone adds on this machine now.
 */
export function calibrate(us: number, runs: number): PickStats {
  let spin = 1;
  let iterations = 1000;
  const loop = () => {
    for (let i = 0; i < iterations; i++) spin = (spin * 1.000001 + 1) % 1e9;
  };
  // scale the loop to `us` from the median of its timings, once the JIT has compiled it
  for (let round = 0; round < 5; round++) {
    const wall: number[] = [];
    for (let k = 0; k < 201; k++) timed(loop, wall, []);
    const median = wall.sort((x, y) => x - y)[100];
    iterations = Math.max(1, Math.round((iterations * us) / 1000 / Math.max(median, 1e-6)));
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < runs; k++) timed(loop, wall, cpu);
  if (spin < 0) throw new Error('unreachable');
  return stats(wall, cpu);
}

/**
 * The gateway's pipeline against the plain reference implementation, side by side in one process:
 * the same requests over the same moving fleet, in alternating rounds (which of the two goes first
 * alternates too), so both see the same machine load. Every pick of both is timed; their choices are
 * compared pick for pick.
 */
export function comparePicks(n: number, workload: PickWorkload, picks: number, model: string, seed: number, rounds = 20): PickComparison {
  const { preset, config, lanes, pipeline, usesPrefix } = gatewayPolicy();
  const reference = referenceRouter(config, lanes);
  const messages = [{ role: 'user', content: 'How many VMs does the fleet need at its peak?' }];
  const gatewayBlocks = usesPrefix ? promptBlocks(messages, { model }) : [];
  const warmup = Math.min(1000, picks);
  const perRound = Math.ceil((picks + warmup) / rounds);
  const times = { reference: [] as number[], pipeline: [] as number[] };
  const cpu = { reference: [] as number[], pipeline: [] as number[] };
  let same = 0;
  let k = 0;
  let fleet = MovingFleet.of(n, model, seed);
  for (let round = 0; round < rounds; round++) {
    const runs: { name: 'reference' | 'pipeline'; fleet: MovingFleet }[] = [
      { name: 'reference', fleet: fleet.clone() },
      { name: 'pipeline', fleet: fleet.clone() },
    ];
    if (round % 2 === 1) runs.reverse();
    const chosen: Record<'reference' | 'pipeline', string[]> = { reference: [], pipeline: [] };
    for (const run of runs) {
      for (let j = 0; j < perRound; j++) {
        const req = run.fleet.request(k + j, model, workload, gatewayBlocks);
        const endpoints = run.fleet.endpoints;
        let outcome = '';
        if (run.name === 'reference')
          timed(
            () => {
              const r = reference.route(req, endpoints);
              outcome = r.picked?.id ?? `none: ${r.reason}`;
            },
            times.reference,
            cpu.reference,
          );
        else
          timed(
            () => {
              const d = pipeline.route(req, endpoints);
              outcome = d.outcome === 'picked' ? d.endpoint.id : `none: ${d.reason}`;
            },
            times.pipeline,
            cpu.pipeline,
          );
        chosen[run.name].push(outcome);
        run.fleet.move();
      }
    }
    for (let j = 0; j < perRound; j++) if (chosen.reference[j] === chosen.pipeline[j]) same++;
    k += perRound;
    // both copies moved alike; carry one on
    fleet = runs[0].fleet;
  }
  // the first picks warm the JIT up
  const drop = (xs: number[]) => xs.slice(warmup);
  const ref = stats(drop(times.reference), drop(cpu.reference));
  const pipe = stats(drop(times.pipeline), drop(cpu.pipeline));
  return {
    endpoints: n,
    workload,
    preset,
    picks: times.pipeline.length - warmup,
    reference: ref,
    pipeline: pipe,
    samePicks: same,
    compared: k,
    ratios: {
      p50: ref.p50Ms / pipe.p50Ms,
      p99: ref.p99Ms / pipe.p99Ms,
      onCpuP99: ref.onCpuP99Ms / pipe.onCpuP99Ms,
      mean: ref.meanMs / pipe.meanMs,
    },
  };
}
