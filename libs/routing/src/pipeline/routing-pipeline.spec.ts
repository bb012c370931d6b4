import { Endpoint } from '../endpoint';
import { capabilityFilter } from '../filters/capability.filter';
import { drainingFilter } from '../filters/draining.filter';
import { healthFilter } from '../filters/health.filter';
import { modelMatchFilter } from '../filters/model-match.filter';
import { maxScorePicker } from '../pickers/max-score.picker';
import { Filter, Picker, Scorer } from '../plugin';
import { SeededRandom } from '../random';
import { kvCacheScorer } from '../scorers/kv-cache.scorer';
import { endpoint, request } from '../testing/routing.factory';
import { explainDecision } from './routing-decision';
import { clamp01, RoutingPipeline } from './routing-pipeline';

/** A scorer that returns fixed numbers: the simplest real plugin, enough to test weighting. */
const fixed = (name: string, scores: Record<string, number>): Scorer => ({
  name,
  reads: [],
  score: () => new Map(Object.entries(scores)),
});

const byId = maxScorePicker('id', new SeededRandom(0));
const serving = [modelMatchFilter, capabilityFilter, healthFilter, drainingFilter];

/** Advances by 0.5 ms on every reading, so each plugin measures exactly 0.5 ms. */
const tickingClock = () => {
  let t = 0;
  return () => (t += 0.5) - 0.5;
};

describe('RoutingPipeline', () => {
  const pool = [endpoint('a'), endpoint('b'), endpoint('c')];

  it.each([
    ['equal weights', 1, 1, 'a'],
    ['load outweighs affinity', 1, 3, 'b'],
    ['affinity outweighs load', 3, 1, 'a'],
    ['a zero weight switches a scorer off', 0, 1, 'b'],
  ])('%s', (_case, affinityWeight, loadWeight, picked) => {
    const pipeline = new RoutingPipeline({
      filters: [],
      scorers: [
        { scorer: fixed('affinity', { a: 1, b: 0, c: 0 }), weight: affinityWeight },
        { scorer: fixed('load', { a: 0.2, b: 0.6, c: 0.4 }), weight: loadWeight },
      ],
      picker: byId,
    });
    const decision = pipeline.route(request(), pool);
    expect(decision.outcome === 'picked' && decision.endpoint.id).toBe(picked);
  });

  it('sums weighted scores into a ranking, best first', () => {
    const pipeline = new RoutingPipeline({
      filters: [],
      scorers: [
        { scorer: fixed('x', { a: 1, b: 0.5, c: 0 }), weight: 2 },
        { scorer: fixed('y', { a: 0, b: 1, c: 0.5 }), weight: 1 },
      ],
      picker: byId,
    });
    expect(pipeline.route(request(), pool).trace.ranking).toEqual([
      { id: 'a', score: 2 },
      { id: 'b', score: 2 },
      { id: 'c', score: 0.5 },
    ]);
  });

  it.each([
    [1.7, 1],
    [-0.3, 0],
    [Number.NaN, 0],
    [Number.POSITIVE_INFINITY, 1],
    [undefined, 0],
    [0.42, 0.42],
  ])('clamps a score of %p to %p', (raw, clamped) => {
    expect(clamp01(raw)).toBe(clamped);
  });

  it('clamps before weighting, and scores a missing endpoint 0', () => {
    const pipeline = new RoutingPipeline({
      filters: [],
      scorers: [{ scorer: fixed('wild', { a: 5, b: -2 }), weight: 2 }],
      picker: byId,
    });
    const { trace } = pipeline.route(request(), pool);
    expect(trace.scorers[0].scores).toEqual({ a: 1, b: 0, c: 0 });
    expect(trace.ranking[0]).toEqual({ id: 'a', score: 2 });
  });

  it.each<[string, Endpoint[], string]>([
    ['no workers at all', [], 'no worker serves model "m"'],
    ['no worker for the model', [endpoint('a', { models: ['other'] })], 'no worker serves model "m"'],
    [
      'workers without the capability',
      [endpoint('a', { capabilities: ['embedding'] })],
      'no worker for "m" offers chat (1 worker serving it)',
    ],
    [
      'all workers draining',
      [endpoint('a', { state: 'draining' }), endpoint('b', { state: 'draining' })],
      'all 2 workers for "m" are draining',
    ],
    [
      'workers still booting',
      [endpoint('a', { state: 'starting' }), endpoint('b', { state: 'unhealthy' })],
      'no ready worker for "m" (1 starting, 1 unhealthy)',
    ],
  ])('says why there is no endpoint: %s', (_case, endpoints, reason) => {
    const decision = new RoutingPipeline({ filters: serving, scorers: [], picker: byId }).route(request(), endpoints);
    expect(decision).toMatchObject({ outcome: 'no-endpoint', reason });
  });

  it('falls back to a generic reason for a filter that gives none, and for a picker that declines', () => {
    const nothing: Filter = { name: 'nothing', reads: [], filter: () => [] };
    const declines: Picker = { name: 'declines', reads: [], pick: () => undefined };
    expect(new RoutingPipeline({ filters: [nothing], scorers: [], picker: byId }).route(request(), pool)).toMatchObject({
      reason: 'filter "nothing" removed all 3 candidates for "m"',
    });
    expect(new RoutingPipeline({ filters: [], scorers: [], picker: declines }).route(request(), pool)).toMatchObject({
      reason: 'picker "declines" chose none of 3 candidates',
    });
  });

  it('explains itself: what each filter removed, every score, the pick and each latency', () => {
    const endpoints = [
      endpoint('a', { kvCacheUsage: 0.5 }),
      endpoint('b', { kvCacheUsage: 0.25 }),
      endpoint('c', { models: ['other'] }),
      endpoint('d', { state: 'draining' }),
    ];
    const pipeline = new RoutingPipeline(
      { filters: serving, scorers: [{ scorer: kvCacheScorer, weight: 2 }], picker: byId },
      tickingClock(),
    );
    const decision = pipeline.route(request({ prefixBlocks: [1, 2] }), endpoints);
    expect(decision.trace.filters.map((f) => [f.name, f.removed])).toEqual([
      ['model-match', ['c']],
      ['capability', []],
      ['health', []],
      ['draining', ['d']],
    ]);
    expect(explainDecision(decision)).toBe(
      [
        'chat request for "m", 2 prefix blocks',
        '  filter model-match: kept 3, removed c  (0.500 ms)',
        '  filter capability: kept 3  (0.500 ms)',
        '  filter health: kept 3  (0.500 ms)',
        '  filter draining: kept 2, removed d  (0.500 ms)',
        '  scorer kv-cache ×2: a=0.500 b=0.750  (0.500 ms)',
        '  ranking: b=1.500 a=1.000',
        '  picker max-score: b  (0.500 ms)',
        '  → b http://b:8000',
      ].join('\n'),
    );
  });

  it('explains a refusal too', () => {
    const decision = new RoutingPipeline({ filters: serving, scorers: [], picker: byId }).route(request({ model: 'x' }), pool);
    expect(explainDecision(decision)).toBe(
      [
        'chat request for "x", 0 prefix blocks',
        '  filter model-match: kept 0, removed a b c  (0.000 ms)',
        '  → no endpoint: no worker serves model "x"',
      ].join('\n'),
    );
  });

  it('tells learning scorers where the request went, and only when one was picked', () => {
    const seen: string[] = [];
    const learner: Scorer = { ...fixed('learner', {}), onPicked: (_req, e) => seen.push(e.id) };
    const pipeline = new RoutingPipeline({ filters: [modelMatchFilter], scorers: [{ scorer: learner, weight: 1 }], picker: byId });
    pipeline.route(request(), pool);
    pipeline.route(request({ model: 'x' }), pool);
    expect(seen).toEqual(['a']);
  });

  it('lists the endpoint fields its plugins read', () => {
    const pipeline = new RoutingPipeline({ filters: serving, scorers: [{ scorer: kvCacheScorer, weight: 1 }], picker: byId });
    expect(pipeline.reads).toEqual(['capabilities', 'failedUntil', 'kvCacheUsage', 'models', 'state']);
  });
});
