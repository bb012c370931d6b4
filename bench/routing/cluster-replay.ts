import { decodeStepSeconds, EngineEvent, EngineProfile, SimulatedEngine } from '@maas/engine-sim';
import { buildRoutingPolicy, Endpoint, RoutingConfig } from '@maas/routing';
import { seededRng } from '../lib/arrivals';
import { TRACE_BLOCK_TOKENS, TraceRequest } from './trace';

export interface ReplaySpec {
  readonly trace: readonly TraceRequest[];
  readonly workers: number;
  readonly profile: EngineProfile;
  readonly routing: RoutingConfig;
  /** Mean heartbeat period (ms of virtual time), each gap drawn in ±1/3 of it; 0: the router reads the engines live. */
  readonly heartbeatMs: number;
  readonly seed: number;
  /** Batch bound the workers register with (the router's `capacity`); defaults to the profile's maxNumSeqs. */
  readonly capacity?: number;
  /** Called once per request that finished or failed. */
  readonly onSettled?: () => void;
  /** Tell the router its outstanding count as of each heartbeat (`outstandingAtHeartbeat`), so it reads load now. */
  readonly loadSinceHeartbeat?: boolean;
}

export interface RequestOutcome {
  readonly id: string;
  readonly worker: string;
  readonly arrivalSeconds: number;
  /** First admission into the engine's running batch. */
  readonly startedSeconds?: number;
  readonly firstTokenSeconds?: number;
  readonly finishedSeconds?: number;
  readonly failure?: string;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly promptBlocks: number;
  /** Blocks the engine served from its prefix cache when it first admitted the request. */
  readonly cachedBlocks: number;
}

export interface WorkerTotals {
  readonly id: string;
  readonly requests: number;
  readonly prefixCacheHitTokens: number;
  readonly prefixCacheQueryTokens: number;
  readonly preemptions: number;
  /** Blocks the router's prefix index believes the worker holds at the end. */
  readonly indexedBlocks: number;
  /** Most KV blocks running requests held at any heartbeat (idle cached prefixes not counted). */
  readonly peakKvBlocksInUse: number;
  /** Mean over its heartbeats of the KV blocks running requests held: the worker's KV demand. */
  readonly meanKvBlocksInUse: number;
}

export interface ReplayResult {
  readonly outcomes: RequestOutcome[];
  readonly workers: WorkerTotals[];
  /** Requests the router refused (no endpoint): should stay 0. */
  readonly unrouted: number;
  /** Share of arrivals at which some worker sat idle (nothing running or waiting) while another had requests waiting. */
  readonly idleWhileQueued: number;
  /** Picks that went to a worker with requests waiting while another sat idle (the engines' true state at the pick). */
  readonly queuedPicksWhileIdle: number;
  /**
   * Of those, the ones whose first token came later than the idle worker would have given it (its prefill
   * of the prompt less what it had cached, in steps of a batch of one): the queue cost more than the prefix saved.
   */
  readonly queuedPicksWhileIdleLost: number;
}

/** What the gateway knows of a worker: its own outstanding count, live, and engine load as of the last heartbeat. */
class WorkerSlot {
  outstanding = 0;
  requests = 0;
  heard = { running: 0, waiting: 0, kvCacheUsage: 0 };
  /** `outstanding` when the last heartbeat was taken. */
  outstandingAtHeartbeat = 0;
  peakKvBlocksInUse = 0;
  kvBlocksInUseSum = 0;
  heartbeats = 0;
  nextHeartbeat: number;

  constructor(
    readonly id: string,
    readonly engine: SimulatedEngine,
    firstHeartbeat: number,
  ) {
    this.nextHeartbeat = firstHeartbeat;
  }

  hear(now: number): void {
    const s = this.engine.snapshot(now);
    this.heard = { running: s.running, waiting: s.waiting, kvCacheUsage: s.kvUsage };
    this.outstandingAtHeartbeat = this.outstanding;
    this.peakKvBlocksInUse = Math.max(this.peakKvBlocksInUse, s.kvBlocksUsed);
    this.kvBlocksInUseSum += s.kvBlocksUsed;
    this.heartbeats += 1;
  }

  endpoint(model: string, capacity: number, loadSinceHeartbeat: boolean): Endpoint {
    return {
      id: this.id,
      url: `http://${this.id}.sim:8000`,
      models: [model],
      capabilities: ['chat', 'completion'],
      state: 'ready',
      hardware: 'gpu',
      vmId: `vm-${this.id}`,
      capacity,
      ...this.heard,
      outstanding: this.outstanding,
      ...(loadSinceHeartbeat ? { outstandingAtHeartbeat: this.outstandingAtHeartbeat } : {}),
    };
  }
}

interface Pending {
  readonly request: TraceRequest;
  readonly worker: string;
  startedSeconds?: number;
  firstTokenSeconds?: number;
  cachedBlocks?: number;
}

/** An idle engine's time to first token for `uncached` prompt tokens: its prefill chunks, each a step of a batch of one. */
function aloneSeconds(profile: EngineProfile, uncached: number): number {
  const steps = Math.max(1, Math.ceil(uncached / profile.maxBatchedTokens));
  return uncached / profile.prefillTokensPerSecond + steps * decodeStepSeconds(profile, 1);
}

/**
 * Replays a trace open-loop over `workers` simulated engines in virtual time, routing each arrival
 * with the given policy on the gateway's view of the workers. Deterministic for a given seed.
 */
export function replayCluster(spec: ReplaySpec): ReplayResult {
  const { trace, profile } = spec;
  const rng = seededRng(spec.seed);
  const periodSeconds = spec.heartbeatMs / 1000;
  const heartbeatGap = () => periodSeconds * (2 / 3 + (2 / 3) * rng());
  const slots = Array.from({ length: spec.workers }, (_, i) => {
    const engine = new SimulatedEngine({ profile, startAt: 0, startupSeconds: 0, seed: spec.seed + i + 1 });
    // Workers boot at different moments, so their heartbeats are out of phase.
    return new WorkerSlot(`w${i}`, engine, periodSeconds > 0 ? periodSeconds * rng() : Infinity);
  });
  const byId = new Map(slots.map((s) => [s.id, s]));
  const { pipeline, state } = buildRoutingPolicy(spec.routing);
  const pending = new Map<string, Pending>();
  const outcomes: RequestOutcome[] = [];
  let unrouted = 0;
  let idleWhileQueuedArrivals = 0;
  let queuedPicksWhileIdle = 0;
  /** Per pick to a queued worker while another idled: seconds the best idle worker would have taken to prefill it. */
  const idleAlternative = new Map<string, number>();

  const settle = (p: Pending, end: number, failure?: string) => {
    pending.delete(p.request.id);
    const slot = byId.get(p.worker);
    if (slot) slot.outstanding -= 1;
    outcomes.push({
      id: p.request.id,
      worker: p.worker,
      arrivalSeconds: p.request.arrivalSeconds,
      startedSeconds: p.startedSeconds,
      firstTokenSeconds: p.firstTokenSeconds,
      finishedSeconds: failure ? undefined : end,
      failure,
      promptTokens: p.request.promptTokens,
      outputTokens: p.request.outputTokens,
      promptBlocks: p.request.blocks.length,
      cachedBlocks: p.cachedBlocks ?? 0,
    });
    spec.onSettled?.();
  };

  const onEvent = (event: EngineEvent) => {
    if (!('id' in event)) return;
    const p = pending.get(event.id);
    if (!p) return;
    if (event.type === 'started' && p.cachedBlocks === undefined) {
      p.cachedBlocks = event.cachedTokens / TRACE_BLOCK_TOKENS;
      p.startedSeconds = event.time;
    } else if (event.type === 'first-token') p.firstTokenSeconds = event.time;
    else if (event.type === 'finished') settle(p, event.time);
    else if (event.type === 'failed') settle(p, event.time, `${event.reason}: ${event.message}`);
  };

  const route = (request: TraceRequest) => {
    const now = request.arrivalSeconds;
    if (periodSeconds === 0) for (const s of slots) s.hear(now);
    // The engines' true state at this instant, not the router's view of it.
    const truth = slots.map((s) => s.engine.snapshot(now));
    const someIdle = truth.some((s) => s.running === 0 && s.waiting === 0);
    if (someIdle && truth.some((s) => s.waiting > 0)) idleWhileQueuedArrivals += 1;
    const endpoints = slots.map((s) => s.endpoint(profile.model, spec.capacity ?? profile.maxNumSeqs, spec.loadSinceHeartbeat ?? false));
    const decision = pipeline.route(
      { model: profile.model, capability: 'chat', arrivedAt: now * 1000, prefixBlocks: request.blocks },
      endpoints,
    );
    if (decision.outcome !== 'picked') {
      unrouted += 1;
      outcomes.push({
        id: request.id,
        worker: '-',
        arrivalSeconds: now,
        failure: `unrouted: ${decision.reason}`,
        promptTokens: request.promptTokens,
        outputTokens: request.outputTokens,
        promptBlocks: request.blocks.length,
        cachedBlocks: 0,
      });
      spec.onSettled?.();
      return;
    }
    const slot = byId.get(decision.endpoint.id) as WorkerSlot;
    if (someIdle && truth[slots.indexOf(slot)].waiting > 0) {
      queuedPicksWhileIdle += 1;
      const asked = { promptTokens: request.promptTokens, prefix: { blockTokens: TRACE_BLOCK_TOKENS, hashes: request.blocks } };
      const idleSeconds = slots
        .filter((_, i) => truth[i].running === 0 && truth[i].waiting === 0)
        .map((s) => aloneSeconds(profile, request.promptTokens - s.engine.cachedPrefixTokens(asked)));
      idleAlternative.set(request.id, Math.min(...idleSeconds));
    }
    slot.outstanding += 1;
    slot.requests += 1;
    pending.set(request.id, { request, worker: slot.id });
    slot.engine.submit(
      {
        id: request.id,
        promptTokens: request.promptTokens,
        outputTokens: request.outputTokens,
        prefix: { blockTokens: TRACE_BLOCK_TOKENS, hashes: request.blocks },
      },
      now,
    );
  };

  let next = 0;
  for (;;) {
    let engineAt = Infinity;
    for (const s of slots) engineAt = Math.min(engineAt, s.engine.nextEventTime() ?? Infinity);
    const arrivalAt = next < trace.length ? trace[next].arrivalSeconds : Infinity;
    if (arrivalAt === Infinity && engineAt === Infinity) break;
    let beat: WorkerSlot | undefined;
    for (const s of slots) if (!beat || s.nextHeartbeat < beat.nextHeartbeat) beat = s;
    const beatAt = beat ? beat.nextHeartbeat : Infinity;
    // Arrivals at t go in before the engines step at t (the engine's driving contract).
    if (arrivalAt <= engineAt && arrivalAt <= beatAt) {
      route(trace[next]);
      next += 1;
    } else if (beat && beatAt < engineAt) {
      beat.hear(beatAt);
      beat.nextHeartbeat = beatAt + heartbeatGap();
    } else {
      for (const s of slots) if ((s.engine.nextEventTime() ?? Infinity) <= engineAt) s.engine.advance(engineAt).forEach(onEvent);
    }
  }

  return {
    outcomes,
    unrouted,
    idleWhileQueued: idleWhileQueuedArrivals / Math.max(1, trace.length),
    queuedPicksWhileIdle,
    queuedPicksWhileIdleLost: outcomes.filter((o) => {
      const idle = idleAlternative.get(o.id);
      return idle !== undefined && (o.firstTokenSeconds === undefined || o.firstTokenSeconds - o.arrivalSeconds > idle);
    }).length,
    workers: slots.map((s) => {
      const snap = s.engine.snapshot();
      return {
        id: s.id,
        requests: s.requests,
        prefixCacheHitTokens: snap.prefixCacheHits,
        prefixCacheQueryTokens: snap.prefixCacheQueries,
        preemptions: snap.preemptions,
        indexedBlocks: state.prefixIndex.blockCount(s.id),
        peakKvBlocksInUse: s.peakKvBlocksInUse,
        meanKvBlocksInUse: s.kvBlocksInUseSum / Math.max(1, s.heartbeats),
      };
    }),
  };
}
