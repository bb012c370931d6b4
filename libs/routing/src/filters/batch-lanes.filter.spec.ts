import type { Endpoint } from '../endpoint';
import { endpoint, ids, request } from '../testing/routing.factory';
import {
  assignLanes,
  batchLaneFilter,
  batchPoolFilter,
  batchSlots,
  interactiveCandidates,
  interactiveLaneFilter,
  LaneWorker,
  lanesOf,
} from './batch-lanes.filter';

const w = (id: string, over: Partial<LaneWorker> = {}): LaneWorker => ({
  id,
  state: 'ready',
  capacity: 128,
  running: 0,
  waiting: 0,
  outstanding: 0,
  batch: 0,
  interactive: 0,
  ...over,
});
const sorted = (s: ReadonlySet<string>) => [...s].sort();

describe('assignLanes', () => {
  it('keeps one worker for interactive traffic and gives the batch the rest', () => {
    const lanes = assignLanes([w('w2'), w('w1'), w('w3')], 1);
    expect(lanes.separate).toBe(true);
    expect(sorted(lanes.interactive)).toEqual(['w1']);
    expect(sorted(lanes.batch)).toEqual(['w2', 'w3']);
  });

  it('shares the only worker when none would be left for the batch', () => {
    const lanes = assignLanes([w('w1', { batch: 40 })], 1);
    expect(lanes.separate).toBe(false);
    expect(sorted(lanes.batch)).toEqual(['w1']);
    expect(sorted(lanes.interactive)).toEqual(['w1']);
  });

  it('keeps the lane where the batch is not: the worker with the least batch work is the interactive one', () => {
    const lanes = assignLanes([w('w1', { batch: 48, outstanding: 48 }), w('w2', { batch: 0 })], 1);
    expect(sorted(lanes.interactive)).toEqual(['w2']);
    expect(sorted(lanes.batch)).toEqual(['w1']);
  });

  it('among workers without batch work, keeps the one already busiest with interactive requests', () => {
    const lanes = assignLanes([w('w1'), w('w2', { interactive: 3, outstanding: 3 })], 1);
    expect(sorted(lanes.interactive)).toEqual(['w2']);
  });

  it('grows the interactive lane when interactive requests in flight fill a worker', () => {
    const lanes = assignLanes(
      [w('w1', { capacity: 4, interactive: 4 }), w('w2', { capacity: 4, interactive: 1 }), w('w3', { capacity: 4, batch: 3 })],
      1,
    );
    expect(sorted(lanes.interactive)).toEqual(['w1', 'w2']);
    expect(sorted(lanes.batch)).toEqual(['w3']);
  });

  it('leaves workers that are not ready out of both lanes', () => {
    const lanes = assignLanes([w('w1', { state: 'draining' }), w('w2'), w('w3', { state: 'starting' })], 1);
    expect(lanes.separate).toBe(false);
    expect(sorted(lanes.batch)).toEqual(['w2']);
  });

  it('with no interactive lane asked for and none in flight, gives every worker to the batch', () => {
    const lanes = assignLanes([w('w1'), w('w2')], 0);
    expect(lanes.interactive.size).toBe(0);
    expect(sorted(lanes.batch)).toEqual(['w1', 'w2']);
  });
});

describe('interactiveCandidates', () => {
  it('avoids workers with batch work while one without has room', () => {
    expect(
      interactiveCandidates([w('w1', { batch: 48, outstanding: 48 }), w('w2', { interactive: 2, outstanding: 2 })]).map((x) => x.id),
    ).toEqual(['w2']);
  });

  it('falls back to every worker when those without batch work queue or are full', () => {
    const all = [
      w('w1', { batch: 48, outstanding: 48 }),
      w('w2', { waiting: 1 }),
      w('w3', { capacity: 2, outstanding: 2, interactive: 2 }),
    ];
    expect(interactiveCandidates(all).map((x) => x.id)).toEqual(['w1', 'w2', 'w3']);
  });
});

describe('batchLaneFilter', () => {
  const spec = { minInteractive: 1, reserve: 0.25, concurrency: new Map<string, number>() };
  const filter = batchLaneFilter(spec);
  const batch = request({ kind: 'batch' });
  // Workers with a KV figure, so spare slots follow the reserve: 8 × 0.75 = 6 at most.
  const busy = (id: string, over: Partial<Endpoint> = {}) => endpoint(id, { running: 2, outstanding: 2, kvCacheUsage: 0.1, ...over });

  it.each([
    ['an interactive request passes untouched', request(), [busy('a'), busy('b')], ['a', 'b']],
    [
      'a batch request skips the interactive lane (the worker with the least batch work)',
      batch,
      [busy('a'), busy('b', { batchOutstanding: 2 })],
      ['b'],
    ],
    ['with one worker there are no lanes: it shares that worker', batch, [busy('a')], ['a']],
    [
      'a batch-lane worker without a spare slot is still its lane',
      batch,
      [busy('a'), busy('b', { batchOutstanding: 2, waiting: 1 })],
      ['b'],
    ],
    [
      'interactive overflow onto the batch lane closes its slots, the lane remains',
      batch,
      [busy('a', { running: 6, outstanding: 6 }), busy('b', { outstanding: 3, batchOutstanding: 2 })],
      ['b'],
    ],
    [
      'only spare workers of the lane are kept',
      batch,
      [busy('a'), busy('b', { batchOutstanding: 2 }), busy('c', { batchOutstanding: 2, running: 6, outstanding: 6 })],
      ['b'],
    ],
    ['no ready worker: nothing to choose between, all kept', batch, [busy('a', { state: 'starting' })], ['a']],
  ])('%s', (_case, req, pool, kept) => {
    expect(ids(filter.filter(req, pool))).toEqual(kept);
  });

  it('caps the running requests at the best concurrency configured for the model', () => {
    const capped = batchLaneFilter({ ...spec, concurrency: new Map([['m', 2]]) });
    const pool = [busy('a'), busy('b', { batchOutstanding: 2 }), busy('c', { running: 1, outstanding: 1, batchOutstanding: 1 })];
    expect(ids(capped.filter(batch, pool))).toEqual(['c']);
    expect(batchSlots('m', pool, { ...spec, concurrency: new Map([['m', 2]]) })).toEqual(new Map([['c', 1]]));
  });
});

describe('batchSlots with per-worker batch limits', () => {
  const spec = { minInteractive: 0, reserve: 0.25, concurrency: new Map([['m', 6]]) };
  const busy = (id: string, over: Partial<Endpoint> = {}) => endpoint(id, { running: 2, outstanding: 2, kvCacheUsage: 0.1, ...over });

  it('gives each worker at most its limit less the batch requests it has', () => {
    const limits = new Map([
      ['a', 1],
      ['b', 2],
    ]);
    // Four running on each (three from elsewhere), one of them this gateway's batch request.
    const pool = ['a', 'b', 'c'].map((id) => busy(id, { running: 4, outstanding: 1, batchOutstanding: 1 }));
    const slots = batchSlots('m', pool, { ...spec, batchLimit: (model, id) => (model === 'm' ? limits.get(id) : undefined) });
    // a: at its limit; b: 2 − 1; c: no limit known, the ceiling decides (6 − 4 running).
    expect(slots).toEqual(
      new Map([
        ['b', 1],
        ['c', 2],
      ]),
    );
    expect(ids(batchLaneFilter({ ...spec, batchLimit: (_m, id) => limits.get(id) ?? 0 }).filter(request({ kind: 'batch' }), pool))).toEqual(
      ['b'],
    );
  });
});

describe('lanes and slots under adaptive control (a batch limit given)', () => {
  const busy = (id: string, over: Partial<Endpoint> = {}) => endpoint(id, { running: 2, outstanding: 2, kvCacheUsage: 0.1, ...over });
  const limit8 = () => 8;
  // Two workers, each with 3 interactive requests of this gateway in flight and 1 batch request.
  const mixed = [
    busy('a', { running: 4, outstanding: 4, batchOutstanding: 1 }),
    busy('b', { running: 4, outstanding: 4, batchOutstanding: 1 }),
  ];

  it.each<
    [string, { minInteractive: number; concurrency: Map<string, number>; batchLimit?: () => number }, Endpoint[], Record<string, number>]
  >([
    // static control: ⌈6 interactive / 8 slots⌉ = 1 worker kept, the other vetoed while interactive requests run there
    [
      'static, lane 0: the in-flight interactive requests reserve a worker and veto the other',
      { minInteractive: 0, concurrency: new Map() },
      mixed,
      {},
    ],
    // adaptive, lane 0: no reserve, no veto: each worker up to its limit (8 − 1), the reserve (6 − 4) deciding
    [
      'adaptive, lane 0: every worker shares, interactive presence is no veto',
      { minInteractive: 0, concurrency: new Map(), batchLimit: limit8 },
      mixed,
      { a: 2, b: 2 },
    ],
    // adaptive, lane 1: one worker kept (the busiest interactive one: a tie, so by id), the other takes batch work
    ['adaptive, lane 1: exactly one worker kept', { minInteractive: 1, concurrency: new Map(), batchLimit: limit8 }, mixed, { b: 2 }],
    // static: GATEWAY_BATCH_CONCURRENCY=3 caps the running requests (4 already): nothing
    [
      'static: the concurrency setting caps running requests',
      { minInteractive: 0, concurrency: new Map([['m', 3]]) },
      [busy('a', { running: 4, outstanding: 1, batchOutstanding: 1 })],
      {},
    ],
    // adaptive: the same setting is the controller's ceiling only; the limit (2) leaves one slot
    [
      'adaptive: the concurrency setting is the ceiling only, the limit decides',
      { minInteractive: 0, concurrency: new Map([['m', 3]]), batchLimit: () => 2 },
      [busy('a', { running: 4, outstanding: 1, batchOutstanding: 1 })],
      { a: 1 },
    ],
  ])('%s', (_case, lane, pool, expected) => {
    expect(Object.fromEntries(batchSlots('m', pool, { reserve: 0.25, ...lane }))).toEqual(expected);
  });

  it('keeps no interactive lane at lane 0, whatever is in flight', () => {
    const lanes = lanesOf(mixed, { minInteractive: 0, reserve: 0.25, concurrency: new Map(), batchLimit: limit8 });
    expect(lanes.interactive.size).toBe(0);
    expect(sorted(lanes.batch)).toEqual(['a', 'b']);
    expect(assignLanes([w('a', { interactive: 100 }), w('b')], 0, false).interactive.size).toBe(0);
    expect(sorted(assignLanes([w('a', { interactive: 100 }), w('b')], 0).interactive)).toEqual(['a']);
  });
});

describe('batch pool (workers started for a batch backlog)', () => {
  const pool = new Set(['p1', 'p2']);
  const spec = { minInteractive: 1, reserve: 0.25, concurrency: new Map([['m', 6]]), batchPool: (id: string) => pool.has(id) };
  const busy = (id: string, over: Partial<Endpoint> = {}) => endpoint(id, { running: 2, outstanding: 2, kvCacheUsage: 0.1, ...over });

  it('keeps interactive requests off the pool while another worker is there, and only then', () => {
    const filter = batchPoolFilter(spec);
    expect(ids(filter.filter(request(), [busy('a'), busy('p1'), busy('p2', { state: 'starting' })]))).toEqual(['a']);
    expect(ids(filter.filter(request(), [busy('p1'), busy('p2')]))).toEqual(['p1', 'p2']);
    expect(ids(filter.filter(request({ kind: 'batch' }), [busy('a'), busy('p1')]))).toEqual(['a', 'p1']);
    expect(ids(batchPoolFilter({ ...spec, batchPool: undefined }).filter(request(), [busy('a'), busy('p1')]))).toEqual(['a', 'p1']);
  });

  it('puts pool workers in the batch lane, never the interactive one, and lanes the others as before', () => {
    const lanes = lanesOf([busy('a', { batchOutstanding: 2 }), busy('p1'), busy('b')], spec);
    expect(sorted(lanes.interactive)).toEqual(['b']);
    expect(sorted(lanes.batch)).toEqual(['a', 'p1']);
    const alone = lanesOf([busy('a'), busy('p1')], spec);
    expect(sorted(alone.interactive)).toEqual(['a']);
    expect(sorted(alone.batch)).toEqual(['a', 'p1']);
  });

  it('gives pool workers batch slots without the adaptive limit (no interactive request runs there)', () => {
    const slots = batchSlots('m', [busy('a', { batchOutstanding: 2 }), busy('p1', { batchOutstanding: 2 })], {
      ...spec,
      minInteractive: 0,
      batchLimit: () => 2,
    });
    expect(slots).toEqual(new Map([['p1', 2]]));
  });
});

describe('interactiveLaneFilter', () => {
  it.each([
    ['no batch work anywhere: untouched', request(), [endpoint('a', { outstanding: 8 }), endpoint('b')], ['a', 'b']],
    [
      'keeps clear of the worker running batch work',
      request(),
      [endpoint('a', { outstanding: 4, batchOutstanding: 4 }), endpoint('b')],
      ['b'],
    ],
    [
      'every clear worker is full: all of them',
      request(),
      [endpoint('a', { outstanding: 4, batchOutstanding: 4 }), endpoint('b', { outstanding: 8 })],
      ['a', 'b'],
    ],
    [
      'a worker not ready is left to the other filters',
      request(),
      [endpoint('a', { outstanding: 4, batchOutstanding: 4 }), endpoint('b'), endpoint('c', { state: 'starting' })],
      ['b', 'c'],
    ],
    [
      'a batch request passes untouched',
      request({ kind: 'batch' }),
      [endpoint('a', { outstanding: 4, batchOutstanding: 4 }), endpoint('b')],
      ['a', 'b'],
    ],
  ])('%s', (_case, req, pool, kept) => {
    expect(ids(interactiveLaneFilter.filter(req, pool))).toEqual(kept);
  });
});
