import { Endpoint, EndpointField, RoutingRequest } from '../endpoint';
import { ServingRun, servingRun } from '../filters/serving';
import { Filter, Picker, ScoredEndpoint, Scorer, Scores } from '../plugin';
import { FilterStep, PickStep, RoutingDecision, RoutingTrace, ScorerStep } from './routing-decision';

export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

export interface RoutingPipelineParts {
  readonly filters: readonly Filter[];
  readonly scorers: readonly WeightedScorer[];
  readonly picker: Picker;
}

/** Milliseconds from any monotonic origin; only differences are used. */
export type Clock = () => number;

/** What one filter was given and kept: enough to write its trace step later. */
interface FilterRun {
  readonly name: string;
  readonly given: readonly Endpoint[];
  readonly kept: readonly Endpoint[];
  readonly latencyMs: number;
}

/** What one scorer returned, unclamped (by id, or by position from `scoreInto`): its trace step is derived from it only when asked for. */
interface ScorerRun {
  readonly name: string;
  readonly weight: number;
  readonly raw: Scores | Float64Array;
  readonly latencyMs: number;
}

/**
 * Runs filter → score → pick over the gateway's replica of the registry. Plugins stay bare: the
 * pipeline clamps and weights scores, times every plugin and records why it decided.
 *
 * A pick allocates only what the plugins return plus one score array per scorer: the trace (every
 * endpoint × every plugin, a sorted ranking) is written from those results the first time
 * `decision.trace` is read — by `maas route explain`, a debug log or a sampled decision — and is the
 * same as if it had been built during the pick. With the built-in plugins a pick is O(candidates)
 * with no allocation per candidate: filters that remove nothing return their input, scorers write
 * by position (`scoreInto`), pickers choose by position (`pickIndex`) over one reused totals buffer.
 */
export class RoutingPipeline {
  /** Endpoint fields the plugins read: what the data layer must keep fresh. */
  readonly reads: readonly EndpointField[];

  /** Weighted sums by position, reused from pick to pick (the trace sums again from the scorer runs). */
  private totals = new Float64Array(64);
  /** Per filter position, the run of built-in serving filters starting there that one pass checks. */
  private readonly servingRuns: readonly (ServingRun | undefined)[];

  constructor(
    readonly parts: RoutingPipelineParts,
    private readonly now: Clock = () => 0,
  ) {
    const plugins = [...parts.filters, ...parts.scorers.map((s) => s.scorer), parts.picker];
    this.reads = [...new Set(plugins.flatMap((p) => p.reads))].sort();
    this.servingRuns = parts.filters.map((_f, i) => servingRun(parts.filters, i));
  }

  route(req: RoutingRequest, endpoints: readonly Endpoint[]): RoutingDecision {
    const filterRuns: FilterRun[] = [];
    if (endpoints.length === 0) return noEndpoint(req, `no worker serves model "${req.model}"`, filterRuns);

    let candidates = endpoints;
    const filters = this.parts.filters;
    for (let f = 0; f < filters.length; f++) {
      const filter = filters[f];
      const run = this.servingRuns[f];
      if (run) {
        const started = this.now();
        if (run.keepsAll(req, candidates)) {
          // each filter of the run would have returned its input; the one pass is timed to the first
          const latencyMs = this.now() - started;
          for (let j = 0; j < run.length; j++)
            filterRuns.push({ name: filters[f + j].name, given: candidates, kept: candidates, latencyMs: j === 0 ? latencyMs : 0 });
          f += run.length - 1;
          continue;
        }
      }
      if (filter.passesAll?.(req)) {
        filterRuns.push({ name: filter.name, given: candidates, kept: candidates, latencyMs: 0 });
        continue;
      }
      const started = this.now();
      const kept = filter.filter(req, candidates);
      filterRuns.push({ name: filter.name, given: candidates, kept, latencyMs: this.now() - started });
      if (kept.length === 0) {
        return noEndpoint(
          req,
          filter.emptyReason?.(req, candidates) ?? `filter "${filter.name}" removed all ${candidates.length} candidates for "${req.model}"`,
          filterRuns,
        );
      }
      candidates = kept;
    }

    // by position: endpoint ids are unique among one model's endpoints (one per worker)
    const n = candidates.length;
    let totals = this.totals;
    if (totals.length < n) totals = this.totals = new Float64Array(Math.max(n, 2 * totals.length));
    else totals.fill(0, 0, n);
    const scorerRuns: ScorerRun[] = [];
    for (const { scorer, weight } of this.parts.scorers) {
      const started = this.now();
      if (scorer.scoreInto) {
        const raw = new Float64Array(n);
        scorer.scoreInto(req, candidates, raw);
        scorerRuns.push({ name: scorer.name, weight, raw, latencyMs: this.now() - started });
        for (let i = 0; i < n; i++) totals[i] += weight * clamp01(raw[i]);
      } else {
        const raw = scorer.score(req, candidates);
        scorerRuns.push({ name: scorer.name, weight, raw, latencyMs: this.now() - started });
        for (let i = 0; i < n; i++) totals[i] += weight * clamp01(raw.get(candidates[i].id));
      }
    }

    const picker = this.parts.picker;
    const started = this.now();
    let picked: Endpoint | undefined;
    if (picker.pickIndex) {
      const i = picker.pickIndex(req, candidates, totals);
      picked = i >= 0 ? candidates[i] : undefined;
    } else {
      const scored: ScoredEndpoint[] = new Array(n);
      for (let i = 0; i < n; i++) scored[i] = { endpoint: candidates[i], score: totals[i] };
      picked = picker.pick(req, scored);
    }
    // the picked id is read for the trace only: endpoints of many shapes would make its load here polymorphic
    const after: AfterFilters = { candidates, scorerRuns, picker: picker.name, picked, pickMs: this.now() - started };
    if (!picked) return noEndpoint(req, `picker "${picker.name}" chose none of ${candidates.length} candidates`, filterRuns, after);

    for (const { scorer } of this.parts.scorers) scorer.onPicked?.(req, picked);
    return withTrace({ outcome: 'picked', endpoint: picked }, () => traceOf(req, filterRuns, after));
  }
}

interface AfterFilters {
  readonly candidates: readonly Endpoint[];
  readonly scorerRuns: readonly ScorerRun[];
  readonly picker: string;
  readonly picked: Endpoint | undefined;
  readonly pickMs: number;
}

function noEndpoint(req: RoutingRequest, reason: string, filterRuns: readonly FilterRun[], after?: AfterFilters): RoutingDecision {
  return withTrace({ outcome: 'no-endpoint', reason }, () => traceOf(req, filterRuns, after));
}

/** The decision with `trace` written on first read, then kept. */
function withTrace<D extends Omit<RoutingDecision, 'trace'>>(decision: D, build: () => RoutingTrace): RoutingDecision {
  let trace: RoutingTrace | undefined;
  return Object.defineProperty(decision, 'trace', {
    enumerable: true,
    get: () => (trace ??= build()),
  }) as unknown as RoutingDecision;
}

function traceOf(req: RoutingRequest, filterRuns: readonly FilterRun[], after: AfterFilters | undefined): RoutingTrace {
  const request = { model: req.model, capability: req.capability, prefixBlocks: req.prefixBlocks.length };
  const filters: FilterStep[] = filterRuns.map(({ name, given, kept, latencyMs }) => {
    const keptIds = new Set(kept.map((e) => e.id));
    return { name, kept: [...keptIds], removed: given.filter((e) => !keptIds.has(e.id)).map((e) => e.id), latencyMs };
  });
  if (!after) return { request, filters, scorers: [], ranking: [] };
  const { candidates } = after;
  const rawOf = (raw: Scores | Float64Array, i: number) => (raw instanceof Float64Array ? raw[i] : raw.get(candidates[i].id));
  // the same sums, in the same order, as the pick made
  const totals = new Float64Array(candidates.length);
  const scorers: ScorerStep[] = after.scorerRuns.map(({ name, weight, raw, latencyMs }) => {
    const scores: Record<string, number> = {};
    for (let i = 0; i < candidates.length; i++) {
      const score = clamp01(rawOf(raw, i));
      scores[candidates[i].id] = score;
      totals[i] += weight * score;
    }
    return { name, weight, scores, latencyMs };
  });
  const ranking = candidates.map((e, i) => ({ id: e.id, score: totals[i] })).sort((a, b) => b.score - a.score);
  const pick: PickStep = { name: after.picker, picked: after.picked?.id, latencyMs: after.pickMs };
  return { request, filters, scorers, ranking, pick };
}

/** Scores outside [0, 1] or missing count as the nearest bound, NaN as 0: one bad plugin cannot dominate. */
export function clamp01(value: number | undefined): number {
  if (value === undefined || Number.isNaN(value)) return 0;
  return Math.min(1, Math.max(0, value));
}
