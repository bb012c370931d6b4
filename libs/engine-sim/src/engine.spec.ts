import { SimulatedEngine } from './engine';
import { EngineEvent, EngineOptions, EngineRequest } from './engine-types';
import { EngineProfile } from './profile';

/** A round-numbered profile: 10 ms per step + 1 ms per extra sequence, 10,000 prefill tokens/s. */
function profile(overrides: Partial<EngineProfile> = {}): EngineProfile {
  return {
    name: 'test',
    model: 'test/model',
    runtime: 'vllm',
    hardware: 'test',
    maxNumSeqs: 4,
    maxBatchedTokens: 512,
    maxModelLen: 4096,
    blockSize: 16,
    kvBlocks: 1000,
    prefillTokensPerSecond: 10000,
    decodeStepMs: [
      [1, 10],
      [11, 20],
    ],
    decodeMsPer1kContextTokens: 0,
    startupSeconds: 0,
    embeddingDimension: 8,
    naturalOutputTokens: [10, 20],
    measured: [],
    ...overrides,
  };
}

function engine(p: Partial<EngineProfile> = {}, options: Partial<EngineOptions> = {}): SimulatedEngine {
  return new SimulatedEngine({ profile: profile(p), ...options });
}

type Arrival = EngineRequest | { readonly cancel: string } | { readonly snapshot: true };

/** Drives the engine until idle, submitting (or cancelling) `arrivals` at their times; returns every event. */
function drive(e: SimulatedEngine, arrivals: Array<[number, Arrival]>, until = Number.POSITIVE_INFINITY): EngineEvent[] {
  const pending = [...arrivals].sort((a, b) => a[0] - b[0]);
  const events: EngineEvent[] = [];
  for (;;) {
    const next = e.nextEventTime();
    const arrival = pending[0]?.[0];
    const t = Math.min(next ?? Number.POSITIVE_INFINITY, arrival ?? Number.POSITIVE_INFINITY);
    if (!Number.isFinite(t) || t > until) return events;
    while (pending.length > 0 && pending[0][0] <= t) {
      const op = pending.shift()![1];
      if ('cancel' in op) e.cancel(op.cancel, t);
      else if ('snapshot' in op) e.snapshot(t);
      else e.submit(op, t);
    }
    events.push(...e.advance(t));
  }
}

const req = (id: string, promptTokens = 100, outputTokens = 10, extra: Partial<EngineRequest> = {}): EngineRequest => ({
  id,
  promptTokens,
  outputTokens,
  ...extra,
});
const of = <T extends EngineEvent['type']>(events: EngineEvent[], type: T, id?: string) =>
  events.filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type && (id === undefined || ('id' in e && e.id === id)));
const finishedAt = (events: EngineEvent[], id: string) => of(events, 'finished', id)[0]?.time;

describe('SimulatedEngine timing', () => {
  it('takes one forward pass plus prefill for the first token, then one step per token', () => {
    const events = drive(engine(), [[0, req('a', 100, 10)]]);
    // first step: 10 ms + 100 / 10,000 s; then 9 decode steps of 10 ms alone
    expect(of(events, 'first-token', 'a')[0].time).toBeCloseTo(0.02, 9);
    expect(finishedAt(events, 'a')).toBeCloseTo(0.02 + 9 * 0.01, 9);
    const tokens = of(events, 'tokens', 'a').reduce((s, e) => s + e.count, 0);
    expect(tokens + 1).toBe(10);
  });

  it('gives the same times whether decode steps are merged or reported one by one', () => {
    const arrivals: Array<[number, EngineRequest]> = [
      [0, req('a', 300, 40)],
      [0.05, req('b', 50, 25)],
      [0.051, req('c', 700, 5)],
      [0.3, req('d', 20, 60)],
      [0.31, req('e', 20, 3)],
    ];
    const merged = drive(engine({}, { granularity: 'request' }), arrivals);
    const stepped = drive(engine({}, { granularity: 'step' }), arrivals);
    for (const id of ['a', 'b', 'c', 'd', 'e']) expect(finishedAt(merged, id)).toBeCloseTo(finishedAt(stepped, id)!, 9);
    expect(of(merged, 'tokens').length).toBeLessThan(of(stepped, 'tokens').length);
  });

  it('stays identical when merging under KV pressure, preemption, stalls, aborts and cancels', () => {
    let x = 12345;
    const rand = (n: number) => (x = (x * 1103515245 + 12345) % 2147483648) % n;
    const arrivals: Array<[number, Arrival]> = Array.from({ length: 150 }, (_, i): Array<[number, Arrival]> => {
      const prompt = 20 + rand(400);
      const shared = rand(3); // three families of prompts share their first blocks
      const hashes = Array.from({ length: Math.floor(prompt / 16) }, (_, j) => (j < 4 ? shared * 100 + j : i * 1000 + j));
      const at = i * 0.02 + rand(10) / 1000;
      const ops: Array<[number, Arrival]> = [[at, req(`r${i}`, prompt, 1 + rand(120), { prefix: { blockTokens: 16, hashes } })]];
      if (i % 7 === 0) ops.push([at + 0.3 + rand(100) / 1000, { cancel: `r${i}` }]);
      if (i % 5 === 0) ops.push([at + rand(300) / 1000, { snapshot: true }]);
      return ops;
    }).flat();
    const options = { seed: 5, faults: { abortRate: 0.1, spikeEverySeconds: 0.5, spikeSeconds: 0.05 } };
    const run = (granularity: 'step' | 'request') => {
      const e = engine({ kvBlocks: 100, maxNumSeqs: 8, decodeMsPer1kContextTokens: 0.5 }, { ...options, granularity });
      const events = drive(e, arrivals);
      // times agree to float rounding: merged runs sum their passes in closed form
      const round = (ev: EngineEvent) =>
        Object.fromEntries(Object.entries(ev).map(([k, v]) => [k, typeof v === 'number' && k !== 'count' ? Math.round(v * 1e9) : v]));
      return { events: events.filter((ev) => ev.type !== 'tokens').map(round), snapshot: e.snapshot() };
    };
    const merged = run('request');
    const stepped = run('step');
    expect(merged.snapshot.preemptions).toBeGreaterThan(0);
    expect(merged.snapshot.requestsFailed).toBeGreaterThan(0);
    expect(merged.snapshot.requestsCancelled).toBeGreaterThan(0);
    expect(merged).toEqual(stepped);
  });

  it('slows every step as the batch grows', () => {
    const alone = finishedAt(drive(engine(), [[0, req('a')]]), 'a')!;
    const together = finishedAt(
      drive(engine(), [
        [0, req('a')],
        [0, req('b')],
        [0, req('c')],
      ]),
      'a',
    )!;
    expect(together).toBeGreaterThan(alone);
  });

  it('charges attention for the context the batch holds', () => {
    const plain = finishedAt(drive(engine(), [[0, req('a', 2000, 10)]]), 'a')!;
    const attention = finishedAt(drive(engine({ decodeMsPer1kContextTokens: 1 }), [[0, req('a', 2000, 10)]]), 'a')!;
    // the prefill pass has no decoders; nine decode passes over 2,001…2,009 tokens at 1 ms per 1,000
    expect(attention - plain).toBeCloseTo((9 * 2000 + 45) / 1e6, 9);
  });

  it('splits a long prompt into chunks of the token budget', () => {
    const events = drive(engine({ maxBatchedTokens: 512 }), [[0, req('a', 1500, 2)]]);
    // three passes: 512 + 512 + 476 prompt tokens, each with its forward-pass cost
    expect(of(events, 'first-token', 'a')[0].time).toBeCloseTo(3 * 0.01 + 1500 / 10000, 9);
  });
  it("caps one request's chunk at the long-prefill threshold, leaving the rest of the budget to others", () => {
    // 1,500 tokens at most 256 a step: six passes instead of three
    const alone = drive(engine({ maxBatchedTokens: 512, longPrefillTokenThreshold: 256 }), [[0, req('a', 1500, 2)]]);
    expect(of(alone, 'first-token', 'a')[0].time).toBeCloseTo(6 * 0.01 + 1500 / 10000, 9);
    // a short prompt arriving with it shares the first pass instead of waiting behind 512 tokens of it
    const shared = drive(engine({ maxBatchedTokens: 512, longPrefillTokenThreshold: 256 }), [
      [0, req('a', 1500, 2)],
      [0, req('b', 100, 2)],
    ]);
    const unshared = drive(engine({ maxBatchedTokens: 512 }), [
      [0, req('a', 1500, 2)],
      [0, req('b', 100, 2)],
    ]);
    expect(of(shared, 'first-token', 'b')[0].time).toBeLessThan(of(unshared, 'first-token', 'b')[0].time);
  });
});

describe('SimulatedEngine batching and queueing', () => {
  it('bounds the running batch and queues the rest in arrival order', () => {
    const e = engine({ maxNumSeqs: 2 });
    const events = drive(
      e,
      [
        [0, req('a', 10, 50)],
        [0, req('b', 10, 50)],
        [0, req('c', 10, 5)],
        [0, req('d', 10, 5)],
      ],
      0.05,
    );
    const snap = e.snapshot(0.05);
    expect(snap.running).toBe(2);
    expect(snap.waiting).toBe(2);
    expect(of(events, 'started').map((s) => s.id)).toEqual(['a', 'b']);
    const rest = drive(e, []);
    expect(of(rest, 'started').map((s) => s.id)).toEqual(['c', 'd']);
    expect(of(rest, 'started')[0].time).toBeCloseTo(finishedAt(rest, 'a')!, 9);
  });

  it('batches everything that arrives at the same instant into one step', () => {
    const events = drive(engine(), [
      [0, req('a')],
      [0, req('b')],
      [0, req('c')],
    ]);
    const firsts = of(events, 'first-token').map((e) => e.time);
    expect(new Set(firsts).size).toBe(1);
  });

  it('lets a newcomer join a batch that is running', () => {
    const events = drive(engine(), [
      [0, req('a', 10, 100)],
      [0.1, req('b', 10, 5)],
    ]);
    expect(finishedAt(events, 'b')).toBeLessThan(finishedAt(events, 'a')!);
  });

  it('waits the start-up delay, then serves', () => {
    const e = engine({}, { startAt: 100, startupSeconds: 30 });
    expect(e.snapshot(100).state).toBe('starting');
    const events = drive(e, [[110, req('a')]]);
    expect(of(events, 'ready')[0].time).toBe(130);
    expect(of(events, 'started', 'a')[0].time).toBe(130);
    expect(e.snapshot().state).toBe('ready');
  });
});

describe('SimulatedEngine KV cache', () => {
  const prefix = (...hashes: number[]) => ({ blockTokens: 16, hashes });

  it('serves a repeated prompt prefix from cache and counts hits in tokens', () => {
    const e = engine();
    const shared = prefix(1, 2, 3, 4);
    const events = drive(e, [
      [0, req('a', 70, 2, { prefix: shared })],
      [1, req('b', 70, 2, { prefix: shared })],
    ]);
    expect(of(events, 'started', 'a')[0].cachedTokens).toBe(0);
    expect(of(events, 'started', 'b')[0].cachedTokens).toBe(64);
    const ttft = (id: string) => of(events, 'first-token', id)[0].time - of(events, 'first-token', id)[0].arrivedAt;
    expect(ttft('b')).toBeLessThan(ttft('a'));
    const snap = e.snapshot();
    expect(snap.prefixCacheQueries).toBe(140);
    expect(snap.prefixCacheHits).toBe(64);
  });

  it('always recomputes the last prompt token, even on a full hit', () => {
    const shared = prefix(1, 2);
    const events = drive(engine(), [
      [0, req('a', 32, 2, { prefix: shared })],
      [1, req('b', 32, 2, { prefix: shared })],
    ]);
    expect(of(events, 'started', 'b')[0].cachedTokens).toBe(16);
  });

  it('maps coarse caller hashes (512-token blocks) onto engine blocks', () => {
    const e = engine();
    const coarse = { blockTokens: 512, hashes: [7, 8, 9] };
    const events = drive(e, [
      [0, req('a', 1300, 1, { prefix: coarse })],
      [1, req('b', 1300, 1, { prefix: coarse })],
    ]);
    // 1,300 tokens hold two full 512-token blocks; the partial third is never shared
    expect(of(events, 'started', 'b')[0].cachedTokens).toBe(1024);
    expect(e.cachedPrefixTokens({ promptTokens: 1300, prefix: coarse })).toBe(1024);
  });

  it('evicts the least recently released prefix first, from its tail', () => {
    // 9 blocks; each request holds its 4 prefix blocks plus 1 for its output
    const e = engine({ kvBlocks: 9 });
    const a = prefix(1, 2, 3, 4);
    const b = prefix(5, 6, 7, 8);
    drive(e, [
      [0, req('a', 64, 2, { prefix: a })],
      [1, req('b', 64, 2, { prefix: b })],
    ]);
    expect(e.snapshot()).toMatchObject({ kvBlocksUsed: 0, kvBlocksCached: 8 });
    // 'c' needs 2 blocks beyond the free one: the tail of a's prompt goes first
    drive(e, [[2, req('c', 16, 20, { prefix: prefix(9) })]]);
    expect(e.cachedPrefixTokens({ promptTokens: 65, prefix: a })).toBe(32);
    expect(e.cachedPrefixTokens({ promptTokens: 65, prefix: b })).toBe(64);
  });

  it('holds a request back while its blocks do not fit, though a batch slot is free', () => {
    // 10 blocks: 'a' holds 7 (100 prompt + 10 output tokens); 'b' needs 7 more
    const e = engine({ kvBlocks: 10 });
    drive(
      e,
      [
        [0, req('a', 100, 10)],
        [0, req('b', 100, 10)],
      ],
      0.03,
    );
    const snap = e.snapshot(0.03);
    expect(snap).toMatchObject({ running: 1, waiting: 1 });
    expect(snap.kvUsage).toBeCloseTo(0.7, 9);
    const events = drive(e, []);
    expect(of(events, 'started', 'b')[0].time).toBeCloseTo(finishedAt(events, 'a')!, 9);
  });

  it('preempts the newest sequence when decoding runs out of blocks, and still finishes both', () => {
    // both prompts fit (2 × 5 blocks of 10) but growing to 160 tokens each does not
    const e = engine({ kvBlocks: 10 });
    const events = drive(e, [
      [0, req('a', 64, 96)],
      [0, req('b', 64, 96)],
    ]);
    expect(of(events, 'preempted').map((p) => p.id)).toEqual(['b']);
    for (const id of ['a', 'b']) expect(of(events, 'finished', id)[0].outputTokens).toBe(96);
    const bTokens = of(events, 'tokens', 'b').reduce((s, t) => s + t.count, 0) + of(events, 'first-token', 'b').length;
    expect(bTokens).toBe(96);
    expect(e.snapshot()).toMatchObject({ preemptions: 1, kvBlocksUsed: 0 });
  });

  it('takes the blocks of a pass in flight before a cancel frees others, merged or not', () => {
    // 8 blocks: x leaves 4 cached; a and b hold 2 each and both need a third for their 17th token,
    // which evicts two of x's blocks whichever way the steps are reported.
    const cached = (granularity: 'step' | 'request') => {
      const e = engine({ kvBlocks: 8 }, { granularity });
      const x = prefix(1, 2, 3, 4);
      drive(e, [
        [0, req('x', 64, 1, { prefix: x })],
        [1, req('a', 16, 40)],
        [1, req('b', 16, 40)],
        [1.183, { cancel: 'b' }],
      ]);
      return e.cachedPrefixTokens({ promptTokens: 65, prefix: x });
    };
    expect(cached('step')).toBe(32);
    expect(cached('request')).toBe(32);
  });

  it('fails a request that could never fit', () => {
    const events = drive(engine({ kvBlocks: 4 }), [[0, req('a', 100, 10)]]);
    expect(of(events, 'failed', 'a')[0]).toMatchObject({ reason: 'too-long', time: 0 });
  });
});

describe('SimulatedEngine cancellation', () => {
  it('frees the slot and blocks of a cancelled request for the next in line', () => {
    const e = engine({ maxNumSeqs: 1 });
    drive(
      e,
      [
        [0, req('a', 10, 1000)],
        [0, req('b', 10, 5)],
      ],
      0.5,
    );
    expect(e.cancel('a', 0.5)).toBe(true);
    expect(e.cancel('a', 0.5)).toBe(false);
    const events = drive(e, []);
    expect(of(events, 'finished', 'a')).toHaveLength(0);
    expect(of(events, 'started', 'b')[0].time).toBeLessThanOrEqual(0.52);
    expect(e.snapshot()).toMatchObject({ requestsCancelled: 1, requestsFinished: 1, running: 0, kvBlocksUsed: 0 });
  });

  it('keeps token counts right when a cancel splits a merged run of steps', () => {
    const e = engine({}, { granularity: 'request' });
    const early = drive(
      e,
      [
        [0, req('a', 10, 100)],
        [0, req('b', 10, 100)],
      ],
      0.3,
    );
    e.cancel('b', 0.3);
    const events = [...early, ...drive(e, [])];
    const total = of(events, 'tokens', 'a').reduce((s, t) => s + t.count, 1);
    expect(total).toBe(100);
    expect(of(events, 'finished', 'a')[0].outputTokens).toBe(100);
  });
});

describe('SimulatedEngine failure injection', () => {
  it('rejects requests at the configured rate', () => {
    const e = engine({}, { faults: { errorRate: 1 } });
    const events = drive(e, [[0, req('a')]]);
    expect(of(events, 'failed', 'a')[0]).toMatchObject({ reason: 'injected', time: 0 });
    expect(e.snapshot().requestsFailed).toBe(1);
  });

  it('breaks requests off mid-generation at the configured rate', () => {
    const events = drive(engine({}, { faults: { abortRate: 1 } }), [[0, req('a', 10, 50)]]);
    const failure = of(events, 'failed', 'a')[0];
    expect(failure.reason).toBe('aborted');
    expect(failure.outputTokens).toBeGreaterThanOrEqual(1);
    expect(failure.outputTokens).toBeLessThan(50);
  });

  it('crashes after N requests: in-flight and later requests fail', () => {
    const e = engine({ maxNumSeqs: 1 }, { faults: { crashAfterRequests: 1 } });
    const events = drive(e, [
      [0, req('a', 10, 5)],
      [0, req('b', 10, 5)],
      [1, req('c')],
    ]);
    expect(of(events, 'finished').map((f) => f.id)).toEqual(['a']);
    expect(of(events, 'failed').map((f) => [f.id, f.reason])).toEqual([
      ['b', 'crashed'],
      ['c', 'crashed'],
    ]);
    expect(of(events, 'crashed')).toHaveLength(1);
    expect(e.snapshot().state).toBe('crashed');
    expect(e.nextEventTime()).toBeUndefined();
  });

  it('stalls the engine for latency spikes', () => {
    const calm = finishedAt(drive(engine(), [[0, req('a', 10, 500)]]), 'a')!;
    const spiky = finishedAt(drive(engine({}, { faults: { spikeEverySeconds: 1, spikeSeconds: 0.5 } }), [[0, req('a', 10, 500)]]), 'a')!;
    const stalls = (spiky - calm) / 0.5;
    expect(stalls).toBeGreaterThanOrEqual(1);
    expect(Math.abs(stalls - Math.round(stalls))).toBeLessThan(0.1);
  });

  it('replays identically from the same seed', () => {
    const arrivals: Array<[number, EngineRequest]> = Array.from({ length: 30 }, (_, i) => [i * 0.01, req(`r${i}`, 50, 20)]);
    const run = () => drive(engine({}, { seed: 7, faults: { errorRate: 0.3, abortRate: 0.2 } }), arrivals);
    expect(run()).toEqual(run());
  });
});
