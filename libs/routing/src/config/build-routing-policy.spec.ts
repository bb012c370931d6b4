import { Endpoint, RoutingRequest } from '../endpoint';
import { endpoint, request } from '../testing/routing.factory';
import { buildRoutingPolicy, RoutingPolicy } from './build-routing-policy';
import { DEFAULT_ROUTING_PRESET, isRoutingPresetName, routingPresets } from './presets';
import { RoutingConfig } from './routing-config';
import { RoutingConfigError } from './validate-config';

const picked = (policy: RoutingPolicy, req: RoutingRequest, endpoints: readonly Endpoint[]) => {
  const decision = policy.pipeline.route(req, endpoints);
  return decision.outcome === 'picked' ? decision.endpoint.id : decision.reason;
};

/** Routes a request and counts it as outstanding on the chosen worker, as the gateway does. */
const dispatch = (policy: RoutingPolicy, req: RoutingRequest, pool: Endpoint[]) => {
  const id = picked(policy, req, pool);
  const i = pool.findIndex((e) => e.id === id);
  pool[i] = { ...pool[i], outstanding: pool[i].outstanding + 1 };
  return id;
};

const blocks = (first: number, n: number) => Array.from({ length: n }, (_, i) => first + i);

describe('buildRoutingPolicy', () => {
  it.each(Object.keys(routingPresets))('builds the %s preset', (name) => {
    expect(isRoutingPresetName(name)).toBe(true);
    const policy = buildRoutingPolicy(routingPresets[name as keyof typeof routingPresets]);
    expect(picked(policy, request(), [endpoint('a')])).toBe('a');
  });

  it('defaults to predicted-ttft and knows no other preset names', () => {
    expect(DEFAULT_ROUTING_PRESET).toBe('predicted-ttft');
    expect(isRoutingPresetName('fastest')).toBe(false);
  });

  it('assembles plugins in configured order with configured weights', () => {
    const { pipeline } = buildRoutingPolicy({
      filters: [{ name: 'health' }, { name: 'model-match' }],
      scorers: [{ name: 'queue-depth', weight: 2, threshold: 4 }],
      picker: { name: 'round-robin' },
    });
    expect(pipeline.parts.filters.map((f) => f.name)).toEqual(['health', 'model-match']);
    expect(pipeline.parts.scorers.map((s) => [s.scorer.name, s.weight])).toEqual([['queue-depth', 2]]);
    expect(pipeline.parts.picker.name).toBe('round-robin');
    expect(pipeline.reads).toEqual(['capacity', 'failedUntil', 'id', 'models', 'outstanding', 'state', 'waiting']);
  });

  it('refuses an invalid config even when the types were bypassed', () => {
    const bad = { filters: [], scorers: [{ name: 'kv-cache', weight: Number.NaN }], picker: { name: 'max-score' } } as RoutingConfig;
    expect(() => buildRoutingPolicy(bad)).toThrow(RoutingConfigError);
  });

  it('sizes the prefix index from the config', () => {
    const { state } = buildRoutingPolicy({
      filters: [],
      scorers: [{ name: 'prefix-affinity', weight: 1, capacityBlocks: 64 }],
      picker: { name: 'max-score' },
    });
    expect(state.prefixIndex.capacityBlocks).toBe(64);
  });

  describe('determinism', () => {
    const pool = ['a', 'b', 'c', 'd'].map((id) => endpoint(id));
    const run = (config: RoutingConfig) => {
      const policy = buildRoutingPolicy(config);
      return Array.from({ length: 30 }, (_, i) => picked(policy, request({ prefixBlocks: [i % 5] }), pool));
    };

    it.each<[string, RoutingConfig]>([
      ['prefix-load', routingPresets['prefix-load']],
      ['predicted-ttft', routingPresets['predicted-ttft']],
      ['power-of-two', { filters: [], scorers: [{ name: 'least-outstanding', weight: 1 }], picker: { name: 'power-of-two', seed: 3 } }],
    ])('%s repeats its decisions for the same seed', (_case, config) => {
      expect(run(config)).toEqual(run(config));
    });

    it('another seed gives other tie-breaks', () => {
      const seeded = (seed: number): RoutingConfig => ({
        filters: [],
        scorers: [],
        picker: { name: 'max-score', tieBreak: 'random', seed },
      });
      expect(run(seeded(1))).not.toEqual(run(seeded(2)));
    });

    it('carries state over to a rebuilt policy, e.g. after a config reload', () => {
      const first = buildRoutingPolicy(routingPresets['round-robin']);
      expect(picked(first, request(), pool)).toBe('a');
      const reloaded = buildRoutingPolicy(routingPresets['round-robin'], { state: first.state });
      expect(picked(reloaded, request(), pool)).toBe('b');
    });
  });

  describe('prefix-load', () => {
    const fresh = () => buildRoutingPolicy(routingPresets['prefix-load']);

    it('keeps a conversation on the worker that holds its prefix while that worker has room', () => {
      const policy = fresh();
      const pool = ['a', 'b', 'c'].map((id) => endpoint(id));
      const home = dispatch(policy, request({ prefixBlocks: blocks(100, 8) }), pool);
      for (let turn = 1; turn <= 6; turn++) {
        expect(dispatch(policy, request({ prefixBlocks: blocks(100, 8 + turn) }), pool)).toBe(home);
      }
    });

    it('sends new prompts to the least loaded workers', () => {
      const policy = fresh();
      const pool = [endpoint('a', { outstanding: 6 }), endpoint('b', { outstanding: 1 }), endpoint('c', { outstanding: 3 })];
      expect(picked(policy, request({ prefixBlocks: blocks(1, 4) }), pool)).toBe('b');
    });

    it.each([
      ['an empty queue keeps the affinity', 0, 'a'],
      ['a short queue still keeps it', 1, 'a'],
      ['a long queue gives way to an idle worker', 14, 'b'],
    ])('%s', (_case, waiting, expected) => {
      const policy = fresh();
      policy.state.prefixIndex.record('a', blocks(1, 10));
      const pool = [endpoint('a', { outstanding: 8, running: 8, waiting }), endpoint('b')];
      expect(picked(policy, request({ prefixBlocks: blocks(1, 10) }), pool)).toBe(expected);
    });

    it('keeps the affinity under overload, when every queue is long', () => {
      const policy = fresh();
      policy.state.prefixIndex.record('a', blocks(1, 10));
      const pool = [endpoint('a', { outstanding: 20, waiting: 12 }), endpoint('b', { outstanding: 19, waiting: 11 })];
      expect(picked(policy, request({ prefixBlocks: blocks(1, 10) }), pool)).toBe('a');
    });

    it('spreads a hot prefix once its first worker queues, and the second worker learns it', () => {
      const policy = fresh();
      const pool = [endpoint('a', { capacity: 2 }), endpoint('b', { capacity: 2 })];
      const hot = request({ prefixBlocks: blocks(1, 10) });
      const seq = Array.from({ length: 40 }, () => dispatch(policy, hot, pool));
      expect(new Set(seq)).toEqual(new Set(['a', 'b']));
      expect(policy.state.prefixIndex.matchLength('a', hot.prefixBlocks)).toBe(10);
      expect(policy.state.prefixIndex.matchLength('b', hot.prefixBlocks)).toBe(10);
    });

    it('accepts a trace row’s hash_ids as the prefix blocks', () => {
      const policy = fresh();
      const pool = ['a', 'b'].map((id) => endpoint(id));
      const row = { timestamp: 40, input_length: 1536, output_length: 3, hash_ids: [0, 1, 2] };
      const req = request({ arrivedAt: row.timestamp, prefixBlocks: row.hash_ids });
      const first = dispatch(policy, req, pool);
      expect(dispatch(policy, { ...req, prefixBlocks: [...row.hash_ids, 3] }, pool)).toBe(first);
    });
  });
});
