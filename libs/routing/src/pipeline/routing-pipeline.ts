import { Endpoint, EndpointField, RoutingRequest } from '../endpoint';
import { Filter, Picker, ScoredEndpoint, Scorer } from '../plugin';
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

/**
 * Runs filter → score → pick over the gateway's replica of the registry. Plugins stay bare: the
 * pipeline clamps and weights scores, times every plugin and records why it decided.
 */
export class RoutingPipeline {
  /** Endpoint fields the plugins read: what the data layer must keep fresh. */
  readonly reads: readonly EndpointField[];

  constructor(
    readonly parts: RoutingPipelineParts,
    private readonly now: Clock = () => 0,
  ) {
    const plugins = [...parts.filters, ...parts.scorers.map((s) => s.scorer), parts.picker];
    this.reads = [...new Set(plugins.flatMap((p) => p.reads))].sort();
  }

  route(req: RoutingRequest, endpoints: readonly Endpoint[]): RoutingDecision {
    const request = { model: req.model, capability: req.capability, prefixBlocks: req.prefixBlocks.length };
    const filters: FilterStep[] = [];
    const noEndpoint = (reason: string, rest: Partial<RoutingTrace> = {}): RoutingDecision => ({
      outcome: 'no-endpoint',
      reason,
      trace: { request, filters, scorers: [], ranking: [], ...rest },
    });
    if (endpoints.length === 0) return noEndpoint(`no worker serves model "${req.model}"`);

    let candidates = endpoints;
    for (const filter of this.parts.filters) {
      const [kept, latencyMs] = this.timed(() => filter.filter(req, candidates));
      const keptIds = new Set(kept.map((e) => e.id));
      filters.push({
        name: filter.name,
        kept: [...keptIds],
        removed: candidates.filter((e) => !keptIds.has(e.id)).map((e) => e.id),
        latencyMs,
      });
      if (kept.length === 0) {
        return noEndpoint(
          filter.emptyReason?.(req, candidates) ?? `filter "${filter.name}" removed all ${candidates.length} candidates for "${req.model}"`,
        );
      }
      candidates = kept;
    }

    const totals = new Map(candidates.map((e) => [e.id, 0]));
    const scorers: ScorerStep[] = [];
    for (const { scorer, weight } of this.parts.scorers) {
      const [raw, latencyMs] = this.timed(() => scorer.score(req, candidates));
      const scores: Record<string, number> = {};
      for (const e of candidates) {
        const s = clamp01(raw.get(e.id));
        scores[e.id] = s;
        totals.set(e.id, (totals.get(e.id) ?? 0) + weight * s);
      }
      scorers.push({ name: scorer.name, weight, scores, latencyMs });
    }

    const scored: ScoredEndpoint[] = candidates.map((endpoint) => ({ endpoint, score: totals.get(endpoint.id) ?? 0 }));
    const ranking = scored.map((s) => ({ id: s.endpoint.id, score: s.score })).sort((a, b) => b.score - a.score);
    const [picked, latencyMs] = this.timed(() => this.parts.picker.pick(req, scored));
    const pick: PickStep = { name: this.parts.picker.name, picked: picked?.id, latencyMs };
    if (!picked) return noEndpoint(`picker "${pick.name}" chose none of ${candidates.length} candidates`, { scorers, ranking, pick });

    for (const { scorer } of this.parts.scorers) scorer.onPicked?.(req, picked);
    return { outcome: 'picked', endpoint: picked, trace: { request, filters, scorers, ranking, pick } };
  }

  private timed<T>(run: () => T): [T, number] {
    const start = this.now();
    const value = run();
    return [value, this.now() - start];
  }
}

/** Scores outside [0, 1] or missing count as the nearest bound, NaN as 0: one bad plugin cannot dominate. */
export function clamp01(value: number | undefined): number {
  if (value === undefined || Number.isNaN(value)) return 0;
  return Math.min(1, Math.max(0, value));
}
