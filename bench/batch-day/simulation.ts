import { EngineEvent, EngineProfile, SimulatedEngine } from '@maas/engine-sim';
import { batchSlots, BatchLaneSpec, Endpoint, interactiveLaneFilter, RoutingRequest } from '@maas/routing';
import { overLimit } from '../../services/gateway/src/services/batch-shedding';
import { seededRng } from '../lib/arrivals';
import { BatchPolicy, InteractiveSample, WorkerLoad } from './policies';

/** Request shapes: prompt and output tokens. */
export interface Shape {
  readonly promptTokens: number;
  readonly outputTokens: number;
}

/** Interactive arrival rate, piecewise constant: `rates[i]` requests/s from `i * stepSeconds`. */
export interface RateSchedule {
  readonly stepSeconds: number;
  readonly rates: readonly number[];
}

export interface DaySpec {
  readonly profile: EngineProfile;
  readonly workers: number;
  readonly schedule: RateSchedule;
  /** Length of one reporting bucket (a compressed hour), simulated seconds. */
  readonly bucketSeconds: number;
  readonly interactive: Shape;
  readonly batch: Shape;
  /** Engine priority of batch requests (interactive ones are 0); the engines schedule by priority. */
  readonly batchPriority: number;
  readonly policy: BatchPolicy;
  /** How often the gateway hears heartbeats and updates the batch policy, simulated ms. */
  readonly tickMs: number;
  /** Sliding window of the per-tick latency record, seconds (0: no record). */
  readonly timelineWindowSeconds: number;
  readonly seed: number;
}

/** What one bucket (a compressed hour) measured. */
export interface Bucket {
  /** Interactive requests that arrived in the bucket, with their TTFT and TPOT (simulated ms). */
  readonly ttftMs: number[];
  readonly tpotMs: number[];
  /** Batch output tokens generated in the bucket. */
  batchTokens: number;
  /** Over the bucket's ticks: sums of the batch requests in flight per worker, and of the adaptive limit per worker. */
  inFlightSum: number;
  limitSum: number;
  ticks: number;
}

/** One tick of the record: interactive p99s over the window (TTFT by first token, TPOT by completion) and the batch limits set. */
export interface TimelinePoint {
  readonly atSeconds: number;
  readonly rate: number;
  readonly ttftP99Ms: number;
  readonly tpotP99Ms: number;
  /** Adaptive control's limit, mean over the workers (NaN under static control). */
  readonly meanLimit: number;
  readonly batchInFlight: number;
  /** Over the engines at the tick: requests running and waiting, and interactive ones among them. */
  readonly running: number;
  readonly waiting: number;
  readonly interactiveInEngines: number;
  /** Mean engine step over the tick interval, over the workers that stepped (ms; NaN: none). */
  readonly stepMs: number;
}

export interface DayResult {
  readonly buckets: Bucket[];
  readonly timeline: TimelinePoint[];
  readonly interactiveArrived: number;
  readonly interactiveFinished: number;
  readonly interactiveFailed: number;
  readonly batchFinished: number;
  /** Batch requests shed (aborted over a worker's limit; their tokens are not counted, the backlog runs them again). */
  readonly batchShed: number;
  readonly batchTokens: number;
  readonly preemptions: number;
  readonly durationSeconds: number;
}

interface Live {
  readonly kind: 'interactive' | 'batch';
  readonly worker: number;
  readonly arrival: number;
  readonly bucket: number;
  firstToken?: number;
  lastToken?: number;
  /** A batch request's tokens counted so far, by bucket: taken back when it is shed. */
  readonly counted?: Map<number, number>;
}

/** Nearest-rank p99 of an unsorted list; NaN when empty. */
function p99(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
}

const mean = (values: readonly number[]) => (values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length);

/**
 * One compressed day in virtual time, with the gateway's BatchController and, under 'gateway' admission,
 * its batch admission and interactive-lane filter from @maas/routing (see `Admission`):
 * - interactive Poisson arrivals at the schedule's rate go to the least-outstanding worker among those
 *   allowed;
 * - a backlog of batch requests that never runs dry fills the room the policy gives each worker, at
 *   every heartbeat and whenever a batch request finishes;
 * - every `tickMs` each worker's heartbeat (running, waiting, KV use, stepMs as the worker agent derives
 *   it from vLLM's inter-token histogram) is heard, and under adaptive control the interactive latencies
 *   seen since the last tick (one sample per completed request, stamped with its first token, as
 *   BatchControlService sends them) and the heartbeats go to the controller, whose limits admission reads.
 * Under adaptive control with shedding (GATEWAY_BATCH_SHED), as BatchControlService and the batch executor
 * do, a worker's batch requests over the controller's limit are shed at the tick: the youngest are cancelled in the engine, their tokens are
 * taken back (a shed request's answer is lost), and the backlog runs them again.
 */
export function simulateDay(spec: DaySpec): DayResult {
  const { profile, schedule } = spec;
  const durationSeconds = schedule.rates.length * schedule.stepSeconds;
  const rng = seededRng(spec.seed);
  const engines = Array.from(
    { length: spec.workers },
    (_, i) => new SimulatedEngine({ profile, startAt: 0, startupSeconds: 0, seed: spec.seed + i + 1, schedulingPolicy: 'priority' }),
  );
  const ids = engines.map((_, i) => `w${i}`);
  const outstanding = new Array<number>(spec.workers).fill(0);
  const batchInFlight = new Array<number>(spec.workers).fill(0);
  const limits = new Map<string, number>();
  const heard = engines.map(() => ({ running: 0, waiting: 0, kvCacheUsage: 0 }));
  const model = profile.model;
  const { admission, update, cap } = spec.policy;
  const lanes: BatchLaneSpec | undefined = spec.policy.lanes && {
    ...spec.policy.lanes,
    ...(update ? { batchLimit: (_model: string, workerId: string) => limits.get(workerId) ?? 0 } : {}),
  };
  const live = new Map<string, Live>();
  const bucketCount = Math.ceil(durationSeconds / spec.bucketSeconds);
  const buckets: Bucket[] = Array.from({ length: bucketCount }, () => ({
    ttftMs: [],
    tpotMs: [],
    batchTokens: 0,
    inFlightSum: 0,
    limitSum: 0,
    ticks: 0,
  }));
  const bucketOf = (t: number) => Math.min(bucketCount - 1, Math.floor(t / spec.bucketSeconds));
  const timeline: TimelinePoint[] = [];
  const recentTtft: { at: number; ms: number }[] = [];
  const recentTpot: { at: number; ms: number }[] = [];
  let samples: InteractiveSample[] = [];
  let serial = 0;
  let arrived = 0;
  let interactiveLive = 0;
  let finished = 0;
  let failed = 0;
  let batchFinished = 0;
  let batchShed = 0;
  let batchTokens = 0;

  const rateAt = (t: number) => schedule.rates[Math.min(schedule.rates.length - 1, Math.floor(t / schedule.stepSeconds))];
  /** Next Poisson arrival after `t`: memoryless, so a draw crossing a rate change restarts at the change. */
  const nextArrival = (from: number): number => {
    let t = from;
    for (;;) {
      const segment = Math.floor(t / schedule.stepSeconds);
      if (segment >= schedule.rates.length) return Infinity;
      const end = (segment + 1) * schedule.stepSeconds;
      const rate = schedule.rates[segment];
      const gap = rate > 0 ? -Math.log(1 - rng()) / rate : Infinity;
      if (t + gap < end) return t + gap;
      t = end;
    }
  };

  const submitBatch = (w: number, now: number) => {
    const id = `b${serial++}`;
    live.set(id, { kind: 'batch', worker: w, arrival: now, bucket: bucketOf(now), counted: new Map() });
    outstanding[w] += 1;
    batchInFlight[w] += 1;
    engines[w].submit(
      { id, promptTokens: spec.batch.promptTokens, outputTokens: spec.batch.outputTokens, priority: spec.batchPriority },
      now,
    );
  };
  /** The gateway's view of worker i: its last heartbeat, and its own requests there (live). */
  const endpoint = (i: number): Endpoint => ({
    id: ids[i],
    url: `http://${ids[i]}.sim:8000`,
    models: [model],
    capabilities: ['chat'],
    state: 'ready',
    hardware: 'gpu',
    vmId: `vm-${ids[i]}`,
    capacity: profile.maxNumSeqs,
    ...heard[i],
    outstanding: outstanding[i],
    batchOutstanding: batchInFlight[i],
  });
  const endpoints = () => ids.map((_, i) => endpoint(i));
  const fillBatch = (now: number) => {
    if (now >= durationSeconds) return;
    if (admission === 'gateway' && lanes) {
      for (const [id, slots] of batchSlots(model, endpoints(), lanes)) {
        const w = ids.indexOf(id);
        for (let k = 0; k < slots; k++) submitBatch(w, now);
      }
    } else if (admission === 'limits') {
      for (let w = 0; w < spec.workers; w++) {
        const limit = update ? (limits.get(ids[w]) ?? 0) : (cap?.(w) ?? 0);
        while (batchInFlight[w] < limit) submitBatch(w, now);
      }
    }
  };

  const routeInteractive = (now: number) => {
    const request: RoutingRequest = { model, capability: 'chat', arrivedAt: now * 1000, prefixBlocks: [], kind: 'interactive' };
    const allowed = admission === 'gateway' ? interactiveLaneFilter.filter(request, endpoints()) : endpoints();
    let w = -1;
    for (const e of allowed) {
      const i = ids.indexOf(e.id);
      if (w < 0 || outstanding[i] < outstanding[w]) w = i;
    }
    const id = `i${serial++}`;
    live.set(id, { kind: 'interactive', worker: w, arrival: now, bucket: bucketOf(now) });
    outstanding[w] += 1;
    interactiveLive += 1;
    arrived += 1;
    engines[w].submit({ id, promptTokens: spec.interactive.promptTokens, outputTokens: spec.interactive.outputTokens }, now);
  };

  // What the worker's heartbeat reports as stepMs: vLLM's inter-token latency histogram (sum, count) over the interval.
  const gapSeconds = new Array<number>(spec.workers).fill(0);
  const gapCount = new Array<number>(spec.workers).fill(0);
  const gapsHeard = engines.map(() => ({ seconds: 0, count: 0 }));

  const onEvent = (event: EngineEvent) => {
    if (!('id' in event)) return;
    const r = live.get(event.id);
    if (!r) return;
    if (event.type === 'first-token') r.lastToken = event.time;
    else if (event.type === 'tokens' && r.lastToken !== undefined) {
      gapSeconds[r.worker] += event.time - r.lastToken;
      gapCount[r.worker] += event.count;
      r.lastToken = event.time;
    }
    if (r.kind === 'batch') {
      // Tokens after the day are not the day's throughput.
      if (event.time > durationSeconds) {
        if (event.type === 'finished' || event.type === 'failed') live.delete(event.id);
        return;
      }
      const count = event.type === 'first-token' ? 1 : event.type === 'tokens' ? event.count : 0;
      if (count > 0) {
        const b = bucketOf(event.time);
        buckets[b].batchTokens += count;
        batchTokens += count;
        r.counted?.set(b, (r.counted.get(b) ?? 0) + count);
      } else if (event.type === 'finished' || event.type === 'failed') {
        live.delete(event.id);
        outstanding[r.worker] -= 1;
        batchInFlight[r.worker] -= 1;
        if (event.type === 'finished') batchFinished += 1;
        fillBatch(event.time);
      }
      return;
    }
    if (event.type === 'first-token') {
      r.firstToken = event.time;
      if (spec.timelineWindowSeconds > 0) recentTtft.push({ at: event.time, ms: (event.time - r.arrival) * 1000 });
      return;
    }
    if (event.type !== 'finished' && event.type !== 'failed') return;
    live.delete(event.id);
    interactiveLive -= 1;
    outstanding[r.worker] -= 1;
    if (event.type === 'failed') {
      failed += 1;
      return;
    }
    finished += 1;
    const firstToken = r.firstToken ?? event.time;
    const ttftMs = (firstToken - r.arrival) * 1000;
    const tpotMs = event.outputTokens > 1 ? ((event.time - firstToken) * 1000) / (event.outputTokens - 1) : 0;
    buckets[r.bucket].ttftMs.push(ttftMs);
    buckets[r.bucket].tpotMs.push(tpotMs);
    // One sample per request as it completes, stamped with its first token (the controller's convention).
    samples.push({ atMs: firstToken * 1000, workerId: ids[r.worker], ttftMs, tpotMs });
    if (spec.timelineWindowSeconds > 0) recentTpot.push({ at: event.time, ms: tpotMs });
  };

  /** Cancels the worker's `count` youngest batch requests, taking back the tokens they made. */
  const shed = (w: number, count: number, now: number) => {
    const youngest = [...live.entries()]
      .filter(([, r]) => r.kind === 'batch' && r.worker === w)
      .sort((a, b) => b[1].arrival - a[1].arrival)
      .slice(0, count);
    for (const [id, r] of youngest) {
      if (!engines[w].cancel(id, now)) continue;
      live.delete(id);
      outstanding[w] -= 1;
      batchInFlight[w] -= 1;
      batchShed += 1;
      for (const [b, n] of r.counted ?? []) {
        buckets[b].batchTokens -= n;
        batchTokens -= n;
      }
    }
  };

  const tick = (now: number) => {
    const loads: WorkerLoad[] = engines.map((e, i) => {
      const s = e.snapshot(now);
      heard[i] = { running: s.running, waiting: s.waiting, kvCacheUsage: s.kvUsage };
      const gaps = gapCount[i] - gapsHeard[i].count;
      const stepMs = gaps > 0 ? ((gapSeconds[i] - gapsHeard[i].seconds) / gaps) * 1000 : undefined;
      gapsHeard[i] = { seconds: gapSeconds[i], count: gapCount[i] };
      return {
        ...(stepMs === undefined ? {} : { stepMs }),
        workerId: ids[i],
        running: s.running,
        waiting: s.waiting,
        batchInFlight: batchInFlight[i],
        kvUsage: s.kvUsage,
        capacity: profile.maxNumSeqs,
      };
    });
    if (update) {
      limits.clear();
      for (const [id, limit] of update(now * 1000, samples, loads)) limits.set(id, limit);
    }
    samples = [];
    if (update && spec.policy.shed) for (const [id, excess] of overLimit(limits, loads)) shed(ids.indexOf(id), excess, now);
    const bucket = buckets[bucketOf(now)];
    const meanLimit = update ? [...limits.values()].reduce((a, b) => a + b, 0) / spec.workers : Number.NaN;
    const inFlight = batchInFlight.reduce((a, b) => a + b, 0);
    bucket.limitSum += meanLimit;
    bucket.inFlightSum += inFlight / spec.workers;
    bucket.ticks += 1;
    if (spec.timelineWindowSeconds > 0) {
      const from = now - spec.timelineWindowSeconds;
      while (recentTtft.length > 0 && recentTtft[0].at < from) recentTtft.shift();
      while (recentTpot.length > 0 && recentTpot[0].at < from) recentTpot.shift();
      timeline.push({
        atSeconds: now,
        rate: rateAt(now),
        ttftP99Ms: p99(recentTtft.map((x) => x.ms)),
        tpotP99Ms: p99(recentTpot.map((x) => x.ms)),
        meanLimit,
        batchInFlight: inFlight,
        running: loads.reduce((a, l) => a + l.running, 0),
        waiting: loads.reduce((a, l) => a + l.waiting, 0),
        interactiveInEngines: interactiveLive,
        stepMs: mean(loads.flatMap((l) => (l.stepMs === undefined ? [] : [l.stepMs]))),
      });
    }
    fillBatch(now);
  };

  const tickSeconds = spec.tickMs / 1000;
  let nextTick = 0;
  let arrivalAt = nextArrival(0);
  for (;;) {
    let engineAt = Infinity;
    for (const e of engines) engineAt = Math.min(engineAt, e.nextEventTime() ?? Infinity);
    const tickAt = nextTick < durationSeconds ? nextTick : Infinity;
    // After the day: no arrivals, no new batch work; the engines drain what they hold.
    if (arrivalAt === Infinity && tickAt === Infinity && (engineAt === Infinity || interactiveLive === 0)) break;
    const now = Math.min(arrivalAt, tickAt, engineAt);
    // Arrivals and the tick at t go in before the engines step at t (the engine's driving contract).
    if (tickAt === now) {
      tick(now);
      nextTick += tickSeconds;
    } else if (arrivalAt === now) {
      routeInteractive(now);
      arrivalAt = nextArrival(now);
    } else {
      for (const e of engines) if ((e.nextEventTime() ?? Infinity) <= now) e.advance(now).forEach(onEvent);
      // Batch requests still running past the end of the day are left: only interactive ones must finish.
      if (arrivalAt === Infinity && tickAt === Infinity && interactiveLive === 0) break;
    }
  }

  return {
    buckets,
    timeline,
    interactiveArrived: arrived,
    interactiveFinished: finished,
    interactiveFailed: failed,
    batchFinished,
    batchShed,
    batchTokens,
    preemptions: engines.reduce((s, e) => s + e.snapshot().preemptions, 0),
    durationSeconds,
  };
}
