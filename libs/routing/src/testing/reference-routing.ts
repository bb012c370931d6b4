import { RoutingConfig } from '../config/routing-config';
import { Endpoint, EndpointState, isIdle, PrefixBlock, queuedRequests, RoutingRequest, runningRequests } from '../endpoint';
import { BatchLaneSpec, batchSlots, interactiveCandidates, laneWorker, lanesOf } from '../filters/batch-lanes.filter';
import { SeededRandom } from '../random';

/**
 * Routing written the plain way, one endpoint at a time: every filter a fresh array, every scorer a
 * map by id, the prefix index asked per endpoint, round-robin sorting every id. It is how the
 * pipeline's plugins worked before they were made to cost O(candidates) with no per-candidate
 * allocation, kept as the reference they must match pick for pick (the property spec) and as the
 * baseline `bench/fleet.ts --picks-only` times them against. Not exported from the package.
 */
export interface ReferenceOutcome {
  readonly picked?: Endpoint;
  readonly reason?: string;
  /** Weighted sums of the candidates the filters left, in their order (none when a filter left none). */
  readonly totals?: readonly { readonly id: string; readonly score: number }[];
}

export interface ReferenceRouter {
  route(req: RoutingRequest, endpoints: readonly Endpoint[]): ReferenceOutcome;
  readonly prefixIndex: ReferencePrefixIndex;
}

/** Per endpoint, its blocks in recency order; matched one endpoint and one block at a time. */
export class ReferencePrefixIndex {
  private readonly blocksByEndpoint = new Map<string, Map<PrefixBlock, true>>();

  constructor(readonly capacityBlocks: number) {}

  matchLength(endpointId: string, blocks: readonly PrefixBlock[]): number {
    const held = this.blocksByEndpoint.get(endpointId);
    if (!held) return 0;
    let n = 0;
    while (n < blocks.length && held.has(blocks[n])) n++;
    return n;
  }

  record(endpointId: string, blocks: readonly PrefixBlock[]): void {
    if (blocks.length === 0) return;
    let held = this.blocksByEndpoint.get(endpointId);
    if (!held) this.blocksByEndpoint.set(endpointId, (held = new Map()));
    for (let i = Math.min(blocks.length, this.capacityBlocks) - 1; i >= 0; i--) {
      held.delete(blocks[i]);
      held.set(blocks[i], true);
    }
    for (const oldest of held.keys()) {
      if (held.size <= this.capacityBlocks) break;
      held.delete(oldest);
    }
  }

  retainEndpoints(liveIds: Iterable<string>): void {
    const live = new Set(liveIds);
    for (const id of [...this.blocksByEndpoint.keys()]) if (!live.has(id)) this.blocksByEndpoint.delete(id);
  }
}

type Scores = ReadonlyMap<string, number>;
interface RefFilter {
  filter(req: RoutingRequest, es: readonly Endpoint[]): readonly Endpoint[];
  emptyReason?(req: RoutingRequest, es: readonly Endpoint[]): string;
  readonly name: string;
}
interface RefScorer {
  score(req: RoutingRequest, es: readonly Endpoint[]): Scores;
  onPicked?(req: RoutingRequest, e: Endpoint): void;
}
type RefPicker = (req: RoutingRequest, scored: readonly { endpoint: Endpoint; score: number }[]) => Endpoint | undefined;

const scoreEach = (es: readonly Endpoint[], fn: (e: Endpoint) => number): Scores => new Map(es.map((e) => [e.id, fn(e)]));
const clamp01 = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 0 : Math.min(1, Math.max(0, v)));
const workers = (n: number) => (n === 1 ? '1 worker' : `${n} workers`);
function countStates(es: readonly Endpoint[]): string {
  const counts = new Map<EndpointState, number>();
  for (const e of es) counts.set(e.state, (counts.get(e.state) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
}

const FILTERS: Record<string, RefFilter> = {
  'model-match': {
    name: 'model-match',
    filter: (req, es) => es.filter((e) => e.models.includes(req.model)),
    emptyReason: (req) => `no worker serves model "${req.model}"`,
  },
  capability: {
    name: 'capability',
    filter: (req, es) => es.filter((e) => e.capabilities.includes(req.capability)),
    emptyReason: (req, es) => `no worker for "${req.model}" offers ${req.capability} (${workers(es.length)} serving it)`,
  },
  health: {
    name: 'health',
    filter: (req, es) => {
      const serving = es.filter((e) => !(['starting', 'unhealthy'] as EndpointState[]).includes(e.state));
      const reachable = serving.filter((e) => !(e.failedUntil !== undefined && e.failedUntil > req.arrivedAt));
      return reachable.length > 0 ? reachable : serving;
    },
    emptyReason: (req, es) => `no ready worker for "${req.model}" (${countStates(es)})`,
  },
  draining: {
    name: 'draining',
    filter: (_req, es) => es.filter((e) => e.state !== 'draining'),
    emptyReason: (req, es) =>
      es.length === 1 ? `the only worker for "${req.model}" is draining` : `all ${workers(es.length)} for "${req.model}" are draining`,
  },
};

/** The gateway's lane filters, ahead of the preset's: batch lane, batch pool, interactive lane. */
function laneFilters(spec: BatchLaneSpec): RefFilter[] {
  return [
    {
      name: 'batch-lane',
      filter: (req, es) => {
        if (req.kind !== 'batch') return es;
        const lanes = lanesOf(es, spec);
        const slots = batchSlots(req.model, es, spec, lanes);
        const spare = es.filter((e) => (slots.get(e.id) ?? 0) > 0);
        if (spare.length > 0) return spare;
        const inLane = es.filter((e) => lanes.batch.has(e.id));
        return inLane.length > 0 ? inLane : es;
      },
    },
    {
      name: 'batch-pool',
      filter: (req, es) => {
        const inPool = spec.batchPool;
        if (req.kind === 'batch' || !inPool) return es;
        const others = es.filter((e) => !inPool(e.id));
        return others.length > 0 ? others : es;
      },
    },
    {
      name: 'interactive-lane',
      filter: (req, es) => {
        if (req.kind === 'batch' || !es.some((e) => (e.batchOutstanding ?? 0) > 0)) return es;
        const ready = es.filter((e) => e.state === 'ready');
        const clear = new Set(interactiveCandidates(ready.map(laneWorker)).map((w) => w.id));
        return clear.size < ready.length ? es.filter((e) => clear.has(e.id) || e.state !== 'ready') : es;
      },
    },
  ];
}

function predictedTtft(
  index: ReferencePrefixIndex,
  blockTokens: number,
  prefillTokensPerSecond: number,
  decodeSlowdown: number,
  stepSeconds: number,
): RefScorer {
  const backlog = new Map<string, { tokens: number; atMs: number; startsByMs: number }>();
  let meanTokens = 0;
  let routed = 0;
  const pending = (e: Endpoint, nowMs: number, slowdown: number) => {
    const b = backlog.get(e.id);
    const ours =
      !b || e.outstanding === 0 ? 0 : Math.max(0, b.tokens - (prefillTokensPerSecond / slowdown) * (Math.max(0, nowMs - b.atMs) / 1000));
    return Math.max(ours, queuedRequests(e) * meanTokens);
  };
  const slowdownOf = (e: Endpoint) =>
    1 + decodeSlowdown * Math.min(1, Math.max(runningRequests(e), e.outstanding) / Math.max(1, e.capacity));
  const uncached = (req: RoutingRequest, e: Endpoint) =>
    Math.max(1, (req.prefixBlocks.length - index.matchLength(e.id, req.prefixBlocks)) * blockTokens);
  const floor = blockTokens / prefillTokensPerSecond;
  const YIELD = 1 - 1e-6;
  return {
    score: (req, es) => {
      const predicted = es.map((e) => {
        const s = slowdownOf(e);
        const p = pending(e, req.arrivedAt, s);
        const b = backlog.get(e.id);
        const queued = queuedRequests(e) > 0 || (b !== undefined && e.outstanding > 0 && req.arrivedAt <= b.startsByMs);
        return { seconds: ((p + uncached(req, e)) / prefillTokensPerSecond) * s, prefilling: p > 0, queued };
      });
      const best = Math.min(...predicted.map((p) => p.seconds));
      const idle = predicted.reduce((min, p, i) => (isIdle(es[i]) ? Math.min(min, p.seconds) : min), Infinity);
      const idleScore = (best + floor) / (idle + floor);
      return new Map(
        es.map((e, i) => {
          const { seconds, prefilling, queued } = predicted[i];
          const score = (best + floor) / (seconds + floor);
          const yields = idle < Infinity && (queued || (prefilling && seconds >= idle));
          return [e.id, yields ? Math.min(score, idleScore * YIELD) : score];
        }),
      );
    },
    onPicked: (req, e) => {
      const tokens = uncached(req, e);
      const s = slowdownOf(e);
      const ahead = pending(e, req.arrivedAt, s);
      // to an idle worker it starts at once; to a busy one after the step in flight and the prefill ahead
      const startsByMs = isIdle(e) ? req.arrivedAt : req.arrivedAt + stepSeconds * 1000 + (ahead / prefillTokensPerSecond) * s * 1000;
      const before = backlog.get(e.id)?.startsByMs ?? -Infinity;
      backlog.set(e.id, { tokens: ahead + tokens, atMs: req.arrivedAt, startsByMs: Math.max(before, startsByMs) });
      routed += 1;
      meanTokens += (tokens - meanTokens) / routed;
      index.record(e.id, req.prefixBlocks);
    },
  };
}

function scorerOf(c: RoutingConfig['scorers'][number], index: ReferencePrefixIndex): RefScorer {
  switch (c.name) {
    case 'least-outstanding':
      return { score: (_r, es) => scoreEach(es, (e) => Math.max(1, e.capacity) / (Math.max(1, e.capacity) + Math.max(0, e.outstanding))) };
    case 'queue-depth': {
      const threshold = c.threshold ?? 8;
      return { score: (_r, es) => scoreEach(es, (e) => threshold / (threshold + queuedRequests(e))) };
    }
    case 'kv-cache':
      return { score: (_r, es) => scoreEach(es, (e) => 1 - e.kvCacheUsage) };
    case 'prefix-affinity': {
      const yieldAtQueue = c.yieldAtQueue ?? 4;
      return {
        score: (req, es) => {
          const blocks = req.prefixBlocks;
          const shortest = Math.min(...es.map(queuedRequests));
          return scoreEach(es, (e) =>
            blocks.length === 0
              ? 0
              : (index.matchLength(e.id, blocks) / blocks.length) * Math.max(0, 1 - (queuedRequests(e) - shortest) / yieldAtQueue),
          );
        },
        onPicked: (req, e) => index.record(e.id, req.prefixBlocks),
      };
    }
    case 'predicted-ttft':
      return predictedTtft(index, c.blockTokens ?? 64, c.prefillTokensPerSecond ?? 20_000, c.decodeSlowdown ?? 4, c.stepSeconds ?? 0.02);
  }
}

function pickerOf(c: RoutingConfig['picker']): RefPicker {
  const lastPicked = new Map<string, string>();
  switch (c.name) {
    case 'max-score': {
      const random = new SeededRandom(c.seed ?? 0);
      const tieBreak = c.tieBreak ?? 'random';
      return (_req, scored) => {
        const top = Math.max(...scored.map((s) => s.score));
        const best = scored.filter((s) => s.score >= top - 1e-9);
        if (best.length === 0) return undefined;
        const chosen =
          tieBreak === 'random' && best.length > 1
            ? best[random.below(best.length)]
            : best.reduce((a, b) => (b.endpoint.id < a.endpoint.id ? b : a));
        return chosen.endpoint;
      };
    }
    case 'power-of-two': {
      const random = new SeededRandom(c.seed ?? 0);
      return (_req, scored) => {
        if (scored.length <= 1) return scored[0]?.endpoint;
        const i = random.below(scored.length);
        const j = (i + 1 + random.below(scored.length - 1)) % scored.length;
        return (scored[j].score > scored[i].score ? scored[j] : scored[i]).endpoint;
      };
    }
    case 'round-robin':
      return (req, scored) => {
        const ids = scored.map((s) => s.endpoint.id).sort();
        if (ids.length === 0) return undefined;
        const last = lastPicked.get(req.model);
        const next = ids.find((id) => last === undefined || id > last) ?? ids[0];
        lastPicked.set(req.model, next);
        return scored.find((s) => s.endpoint.id === next)?.endpoint;
      };
  }
}

/** The configuration's policy (fresh state: index, backlog, seeded draws), with the gateway's lane filters ahead when given. */
export function referenceRouter(config: RoutingConfig, lanes?: BatchLaneSpec): ReferenceRouter {
  const withIndex = config.scorers.find((s) => s.name === 'prefix-affinity' || s.name === 'predicted-ttft');
  const prefixIndex = new ReferencePrefixIndex(withIndex?.capacityBlocks ?? 4096);
  const filters = [...(lanes ? laneFilters(lanes) : []), ...config.filters.map((f) => FILTERS[f.name])];
  const scorers = config.scorers.map((c) => ({ scorer: scorerOf(c, prefixIndex), weight: c.weight }));
  const pick = pickerOf(config.picker);
  return {
    prefixIndex,
    route: (req, endpoints) => {
      if (endpoints.length === 0) return { reason: `no worker serves model "${req.model}"` };
      let candidates = endpoints;
      for (const f of filters) {
        const kept = f.filter(req, candidates);
        if (kept.length === 0)
          return {
            reason: f.emptyReason?.(req, candidates) ?? `filter "${f.name}" removed all ${candidates.length} candidates for "${req.model}"`,
          };
        candidates = kept;
      }
      const totals = candidates.map(() => 0);
      for (const { scorer, weight } of scorers) {
        const raw = scorer.score(req, candidates);
        candidates.forEach((e, i) => (totals[i] += weight * clamp01(raw.get(e.id))));
      }
      const scored = candidates.map((endpoint, i) => ({ endpoint, score: totals[i] }));
      const sums = scored.map((s) => ({ id: s.endpoint.id, score: s.score }));
      const picked = pick(req, scored);
      if (!picked) return { reason: `picker "${config.picker.name}" chose none of ${candidates.length} candidates`, totals: sums };
      for (const { scorer } of scorers) scorer.onPicked?.(req, picked);
      return { picked, totals: sums };
    },
  };
}
