import fc from 'fast-check';
import { Endpoint, EndpointState, RoutingRequest } from '../endpoint';
import { capabilityFilter } from '../filters/capability.filter';
import { drainingFilter } from '../filters/draining.filter';
import { healthFilter } from '../filters/health.filter';
import { modelMatchFilter } from '../filters/model-match.filter';
import { maxScorePicker } from '../pickers/max-score.picker';
import { Filter, Picker, ScoredEndpoint, Scorer } from '../plugin';
import { SeededRandom } from '../random';
import { kvCacheScorer } from '../scorers/kv-cache.scorer';
import { endpoint, request } from '../testing/routing.factory';
import { explainDecision, FilterStep, RoutingDecision, RoutingTrace, ScorerStep } from './routing-decision';
import { clamp01, RoutingPipelineParts, RoutingPipeline } from './routing-pipeline';

/**
 * The pipeline as it was before its trace became lazy: every step recorded while routing. Kept here
 * as the reference the lazy one must match, decision for decision and trace for trace.
 */
function eagerRoute(parts: RoutingPipelineParts, req: RoutingRequest, endpoints: readonly Endpoint[]): RoutingDecision {
  const request = { model: req.model, capability: req.capability, prefixBlocks: req.prefixBlocks.length };
  const filters: FilterStep[] = [];
  const noEndpoint = (reason: string, rest: Partial<RoutingTrace> = {}): RoutingDecision => ({
    outcome: 'no-endpoint',
    reason,
    trace: { request, filters, scorers: [], ranking: [], ...rest },
  });
  if (endpoints.length === 0) return noEndpoint(`no worker serves model "${req.model}"`);
  let candidates = endpoints;
  for (const filter of parts.filters) {
    const kept = filter.filter(req, candidates);
    const keptIds = new Set(kept.map((e) => e.id));
    filters.push({
      name: filter.name,
      kept: [...keptIds],
      removed: candidates.filter((e) => !keptIds.has(e.id)).map((e) => e.id),
      latencyMs: 0,
    });
    if (kept.length === 0)
      return noEndpoint(
        filter.emptyReason?.(req, candidates) ?? `filter "${filter.name}" removed all ${candidates.length} candidates for "${req.model}"`,
      );
    candidates = kept;
  }
  const totals = new Map(candidates.map((e) => [e.id, 0]));
  const scorers: ScorerStep[] = [];
  for (const { scorer, weight } of parts.scorers) {
    const raw = scorer.score(req, candidates);
    const scores: Record<string, number> = {};
    for (const e of candidates) {
      const s = clamp01(raw.get(e.id));
      scores[e.id] = s;
      totals.set(e.id, (totals.get(e.id) ?? 0) + weight * s);
    }
    scorers.push({ name: scorer.name, weight, scores, latencyMs: 0 });
  }
  const scored: ScoredEndpoint[] = candidates.map((endpoint) => ({ endpoint, score: totals.get(endpoint.id) ?? 0 }));
  const ranking = scored.map((s) => ({ id: s.endpoint.id, score: s.score })).sort((a, b) => b.score - a.score);
  const picked = parts.picker.pick(req, scored);
  const pick = { name: parts.picker.name, picked: picked?.id, latencyMs: 0 };
  if (!picked) return noEndpoint(`picker "${pick.name}" chose none of ${candidates.length} candidates`, { scorers, ranking, pick });
  return { outcome: 'picked', endpoint: picked, trace: { request, filters, scorers, ranking, pick } };
}

const states: EndpointState[] = ['ready', 'ready', 'draining', 'starting', 'unhealthy'];
const arbEndpoints = fc
  .array(
    fc.record({
      state: fc.constantFrom(...states),
      model: fc.constantFrom('m', 'other'),
      embedding: fc.boolean(),
      kvCacheUsage: fc.double({ min: -0.5, max: 1.5, noNaN: true }),
      failed: fc.boolean(),
      load: fc.double({ min: -1, max: 2 }),
    }),
    { maxLength: 30 },
  )
  .map((rows) =>
    rows.map((r, i) =>
      endpoint(`w${i}`, {
        state: r.state,
        models: [r.model],
        capabilities: r.embedding ? ['embedding'] : ['chat'],
        kvCacheUsage: r.kvCacheUsage,
        failedUntil: r.failed ? 2_000 : undefined,
        running: Math.round(Math.abs(r.load) * 4),
      }),
    ),
  );

/** A scorer reading one field, wild values included (clamping is the pipeline's). */
const byRunning: Scorer = {
  name: 'by-running',
  reads: ['running'],
  score: (_req, es) => new Map(es.map((e) => [e.id, 1.2 - e.running / 4])),
};
/** Declines when every candidate is busy, to cover the picker's refusal. */
const fussy: Picker = {
  name: 'fussy',
  reads: ['running'],
  pick: (_req, scored: readonly ScoredEndpoint[]) => scored.find((s) => s.endpoint.running < 4)?.endpoint,
};
const serving: Filter[] = [modelMatchFilter, capabilityFilter, healthFilter, drainingFilter];

describe('RoutingPipeline with a lazy trace', () => {
  it('decides as the eager pipeline did, and writes the same trace when asked', () => {
    fc.assert(
      fc.property(
        arbEndpoints,
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.boolean(),
        (endpoints, w1, w2, useFussy) => {
          const parts = (): RoutingPipelineParts => ({
            filters: serving,
            scorers: [
              { scorer: kvCacheScorer, weight: w1 },
              { scorer: byRunning, weight: w2 },
            ],
            picker: useFussy ? fussy : maxScorePicker('random', new SeededRandom(7)),
          });
          const req = request({ prefixBlocks: [1, 2, 3] });
          const lazy = new RoutingPipeline(parts()).route(req, endpoints);
          const eager = eagerRoute(parts(), req, endpoints);
          expect(lazy.outcome).toBe(eager.outcome);
          expect(lazy.outcome === 'picked' ? lazy.endpoint.id : lazy.reason).toBe(
            eager.outcome === 'picked' ? eager.endpoint.id : eager.reason,
          );
          expect(lazy.trace).toEqual(eager.trace);
          expect(explainDecision(lazy)).toBe(explainDecision(eager));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes the trace once and hands back the same one after', () => {
    const decision = new RoutingPipeline({ filters: serving, scorers: [{ scorer: kvCacheScorer, weight: 1 }], picker: fussy }).route(
      request(),
      [endpoint('a'), endpoint('b', { state: 'draining' })],
    );
    expect(decision.trace).toBe(decision.trace);
    expect(decision.trace.filters.map((f) => f.removed)).toEqual([[], [], [], ['b']]);
  });
});
