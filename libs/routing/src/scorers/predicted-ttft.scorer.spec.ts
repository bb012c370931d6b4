import { Endpoint } from '../endpoint';
import { PrefixIndex } from '../prefix/prefix-index';
import { endpoint, request } from '../testing/routing.factory';
import { PrefillBacklog, predictedTtftScorer } from './predicted-ttft.scorer';

/** 100 tokens a block at 1,000 tokens a second: a block is 0.1 s of prefill. */
const RATE = 1000;
const BLOCK = 100;

function scorerWith(held: Record<string, number[]>, decodeSlowdown = 0, stepSeconds = 0) {
  const index = new PrefixIndex(100);
  for (const [id, blocks] of Object.entries(held)) index.record(id, blocks);
  return predictedTtftScorer({
    index,
    backlog: new PrefillBacklog(),
    blockTokens: BLOCK,
    prefillTokensPerSecond: RATE,
    decodeSlowdown,
    stepSeconds,
  });
}

/** Score of `a` against `b`, for a 10-block prompt [1..10]. */
function scoreOfA(held: Record<string, number[]>, a: Partial<Endpoint>, b: Partial<Endpoint>, decodeSlowdown = 0): number {
  const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  return scorerWith(held, decodeSlowdown)
    .score(request({ prefixBlocks: prompt }), [endpoint('a', a), endpoint('b', b)])
    .get('a')!;
}

describe('predictedTtftScorer', () => {
  // Predicted TTFT in seconds: (pending prefill + uncached prompt, at least its last token) / rate × (1 + slowdown × busy);
  // score = (best + 0.1) / (own + 0.1).
  it.each<[string, Record<string, number[]>, Partial<Endpoint>, Partial<Endpoint>, number, number]>([
    ['idle and equal: both best', {}, {}, {}, 0, 1],
    [
      'a holds the whole prompt, both idle: a predicts its last token, 0.001 s, b 1 s',
      { a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
      {},
      {},
      0,
      1,
    ],
    ['b holds the whole prompt: a 1 s against b 0.001 s', { b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, {}, {}, 0, 0.101 / 1.1],
    ['a holds half: 0.5 s against 1 s', { a: [1, 2, 3, 4, 5] }, {}, {}, 0, 1],
    ['b holds half: 1 s against 0.5 s', { b: [1, 2, 3, 4, 5] }, {}, {}, 0, 0.6 / 1.1],
    ['a full batch decoding slows a by half: 1.5 s against 1 s', {}, { running: 8 }, {}, 0.5, 1.1 / 1.6],
    ['half a batch: 1.25 s against 1 s', {}, { running: 4 }, {}, 0.5, 1.1 / 1.35],
  ])('%s', (_case, held, a, b, slowdown, score) => {
    expect(scoreOfA(held, a, b, slowdown)).toBeCloseTo(score, 9);
  });

  it('against a busy worker, a prefix hit wins while the holder queues less prefill than it saves, and loses once it queues more', () => {
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const scorer = scorerWith({ a: prompt });
    const clock = 10_000;
    // Route 5 blocks of other prompts to a at one instant: 0.5 s of prefill queued before the hit saves 1 s.
    scorer.onPicked(request({ prefixBlocks: [21, 22, 23, 24, 25], arrivedAt: clock }), endpoint('a', { outstanding: 0 }));
    // b runs a request (its heartbeat says so): not idle, so a's queue is weighed against its saving.
    const b = endpoint('b', { running: 1 });
    let scores = scorer.score(request({ prefixBlocks: prompt, arrivedAt: clock }), [endpoint('a', { outstanding: 1 }), b]);
    expect(scores.get('a')).toBe(1);
    expect(scores.get('b')).toBeCloseTo(0.601 / 1.1, 9);
    // 15 more blocks: 2 s queued on a, more than the 1 s its cache saves, so the idle b wins (a: 2.001 s).
    scorer.onPicked(
      request({ prefixBlocks: [31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45], arrivedAt: clock }),
      endpoint('a', { outstanding: 1 }),
    );
    scores = scorer.score(request({ prefixBlocks: prompt, arrivedAt: clock }), [endpoint('a', { outstanding: 2 }), b]);
    expect(scores.get('b')).toBe(1);
    expect(scores.get('a')).toBeCloseTo(1.1 / 2.101, 9);
  });

  it('drains the backlog at the prefill rate as time passes, and forgets it when nothing is outstanding', () => {
    const scorer = scorerWith({});
    scorer.onPicked(request({ prefixBlocks: [21, 22, 23, 24, 25, 26, 27, 28, 29, 30], arrivedAt: 0 }), endpoint('a'));
    const cold = [40, 41];
    // 1 s queued at 0 ms; 0.6 s later 0.4 s remain: a predicts 0.4 + 0.2 s, b 0.2 s.
    expect(
      scorer.score(request({ prefixBlocks: cold, arrivedAt: 600 }), [endpoint('a', { outstanding: 1 }), endpoint('b')]).get('a'),
    ).toBeCloseTo(0.3 / 0.7, 9);
    expect(
      scorer.score(request({ prefixBlocks: cold, arrivedAt: 2000 }), [endpoint('a', { outstanding: 1 }), endpoint('b')]).get('a'),
    ).toBe(1);
    expect(scorer.score(request({ prefixBlocks: cold, arrivedAt: 100 }), [endpoint('a', { outstanding: 0 }), endpoint('b')]).get('a')).toBe(
      1,
    );
  });

  it("counts a queue it did not fill (another gateway's requests) at the mean prompt it has routed", () => {
    const scorer = scorerWith({});
    scorer.onPicked(request({ prefixBlocks: [1, 2, 3, 4], arrivedAt: 0 }), endpoint('c'));
    // Mean uncached prompt 400 tokens; a's heartbeat shows 3 waiting: 1.2 s before a 2-block prompt's 0.2 s.
    const scores = scorer.score(request({ prefixBlocks: [50, 51], arrivedAt: 0 }), [endpoint('a', { waiting: 3 }), endpoint('b')]);
    expect(scores.get('a')).toBeCloseTo(0.3 / 1.5, 9);
  });

  describe('while a worker idles, one still prefilling (nothing waiting) wins only by an earlier predicted first token', () => {
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    /** `a` with `queuedBlocks` blocks of prefill still to do (sent 1 s ago while it idled, 10 blocks since done) and holding `heldByA` of the prompt; `b` idle. */
    function scores(queuedBlocks: number, heldByA: number[], b: Partial<Endpoint> = {}, heldByB: number[] = []) {
      const scorer = scorerWith({ a: heldByA, b: heldByB });
      if (queuedBlocks > 0) {
        const other = Array.from({ length: queuedBlocks + 10 }, (_, i) => 100 + i);
        scorer.onPicked(request({ prefixBlocks: other, arrivedAt: 4_000 }), endpoint('a'));
      }
      const got = scorer.score(request({ prefixBlocks: prompt, arrivedAt: 5_000 }), [
        endpoint('a', { outstanding: queuedBlocks > 0 ? 1 : 0 }),
        endpoint('b', b),
      ]);
      return { a: got.get('a')!, b: got.get('b')! };
    }

    // Predicted: a = (queue + uncached) / rate, b = its uncached prompt / rate (idle: nothing queued).
    it.each<[string, number, number[], Partial<Endpoint>, number[], 'a' | 'b']>([
      ['a holds all, queues 0.5 s: 0.501 s against 1 s, a wins', 5, prompt, {}, [], 'a'],
      ['a holds 9 of 10 blocks, queues 0.9 s: 1 s against 1 s, the idle b wins the tie', 9, prompt.slice(0, 9), {}, [], 'b'],
      ['a holds all, queues 1.5 s: b wins', 15, prompt, {}, [], 'b'],
      ['a holds nothing, queues 0.1 s: b wins', 1, [], {}, [], 'b'],
      ['both hold all, a queues 0.1 s: b wins', 1, prompt, {}, prompt, 'b'],
      ['b idle by our count but a heartbeat shows it running: not idle, a holds all and wins', 5, prompt, { running: 2 }, [], 'a'],
      ['b with its KV full is not idle: a queued behind the same prefill still loses on prediction', 1, [], { kvCacheUsage: 1 }, [], 'b'],
    ])('%s', (_case, queuedBlocks, heldByA, b, heldByB, winner) => {
      const s = scores(queuedBlocks, heldByA, b, heldByB);
      const loser = winner === 'a' ? 'b' : 'a';
      expect(s[winner]).toBeGreaterThan(s[loser] + 1e-9);
    });

    it('gives the tie to the idle worker only: two idle workers that predict the same first token stay tied', () => {
      const s = scores(0, prompt, {}, prompt);
      expect(s.a).toBe(1);
      expect(s.b).toBe(1);
    });

    it('an idle holder of the whole prompt beats a busier holder whose backlog has drained: at least the last token is computed', () => {
      const scorer = scorerWith({ a: prompt, b: prompt }, 0.5);
      const got = scorer.score(request({ prefixBlocks: prompt }), [endpoint('a', { outstanding: 6, running: 6 }), endpoint('b')]);
      expect(got.get('b')).toBe(1);
      expect(got.get('a')).toBeLessThan(1 - 1e-9);
    });
  });

  describe('while a worker idles, one with a queue never wins, whatever its prefix saves', () => {
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const NOW = 10_000;
    /** A request sent to `a` `msAgo` before the pick: `blocks` uncached blocks of another prompt (0: this prompt, all held). */
    type Sent = readonly [blocks: number, msAgo: number];

    /**
     * a holds the whole prompt (0.001 s), b holds none (1 s): a wins on prediction unless it has a queue
     * while b idles. `sent` go to a in order, each while a holds the ones before (plus `busy`'s request of
     * another gateway, which keeps a from being idle); steps last at most 0.1 s.
     */
    function winner(sent: readonly Sent[], a: Partial<Endpoint> = {}, b: Partial<Endpoint> = {}, busy = false): 'a' | 'b' {
      const scorer = scorerWith({ a: prompt }, 0, 0.1);
      const other = busy ? { running: 1 } : {};
      sent.forEach(([blocks, msAgo], i) => {
        const prefix = blocks === 0 ? prompt : Array.from({ length: blocks }, (_, k) => 100 * (i + 1) + k);
        scorer.onPicked(request({ prefixBlocks: prefix, arrivedAt: NOW - msAgo }), endpoint('a', { outstanding: i, ...other }));
      });
      const got = scorer.score(request({ prefixBlocks: prompt, arrivedAt: NOW }), [
        endpoint('a', { outstanding: sent.length, ...other, ...a }),
        endpoint('b', b),
      ]);
      expect(got.get('a')).not.toBeCloseTo(got.get('b')!, 9);
      return got.get('a')! > got.get('b')! ? 'a' : 'b';
    }

    it.each<[string, readonly Sent[], Partial<Endpoint>, Partial<Endpoint>, boolean, 'a' | 'b']>([
      ['both idle: a wins by its prefix', [], {}, {}, false, 'a'],
      ['a prefills 0.5 s sent 1 ms ago while it idled (started, nothing waits): 0.5 s against 1 s, a', [[5, 1]], {}, {}, false, 'a'],
      [
        'a got a second request 0.1 s ago, behind 0.5 s of prefill: it waits there until ~0.6 s, b',
        [
          [5, 100],
          [1, 100],
        ],
        {},
        {},
        false,
        'b',
      ],
      [
        'the same 0.8 s ago: both started by now, a',
        [
          [5, 800],
          [1, 800],
        ],
        {},
        {},
        false,
        'a',
      ],
      [
        'a sent a whole hit 50 ms ago while busy: done prefilling, it may still wait for the step in flight, b',
        [[0, 50]],
        {},
        {},
        true,
        'b',
      ],
      ['the same 150 ms ago, past a step: started by now, a', [[0, 150]], {}, {}, true, 'a'],
      ['the same sent while a idled: started at once, a', [[0, 50]], {}, {}, false, 'a'],
      ['a request sent to a this very instant while it idled: not started before this pick, b', [[0, 0]], {}, {}, false, 'b'],
      ["a's heartbeat shows a queue (another gateway's requests, none routed here yet): b", [], { running: 1, waiting: 1 }, {}, false, 'b'],
      ['our requests on a exceed its capacity: b', [], { outstanding: 9, running: 8 }, {}, false, 'b'],
      [
        'b runs a request, so no worker idles: a wins by its prefix over its queue',
        [
          [5, 100],
          [1, 100],
        ],
        {},
        { running: 1 },
        false,
        'a',
      ],
      [
        "b's heartbeat shows 2 running, both ours and finished since (outstandingAtHeartbeat 2): idle now, b",
        [
          [5, 100],
          [1, 100],
        ],
        {},
        { running: 2, outstandingAtHeartbeat: 2 },
        false,
        'b',
      ],
    ])('%s', (_case, sent, a, b, busy, expected) => {
      expect(winner(sent, a, b, busy)).toBe(expected);
    });
  });

  it('records where a request went, so the next prompt sharing its prefix finds it there', () => {
    const scorer = scorerWith({});
    scorer.onPicked(request({ prefixBlocks: [7, 8], arrivedAt: 0 }), endpoint('b'));
    const scores = scorer.score(request({ prefixBlocks: [7, 8, 9], arrivedAt: 60_000 }), [endpoint('a'), endpoint('b')]);
    expect(scores.get('b')).toBe(1);
    expect(scores.get('a')).toBeCloseTo(0.2 / 0.4, 9);
  });

  it('reads a worker that worked off its queue since its heartbeat as idle when told our count as of the heartbeat', () => {
    // a's heartbeat: 8 running, 2 waiting, all 10 ours; all have finished since. b runs 2 of ours.
    const stale = { running: 8, waiting: 2, outstanding: 0 };
    const b = { running: 2, outstanding: 2 };
    // as heard, a's full batch slows it 5×: 5 s against b's 2 s
    expect(scoreOfA({}, stale, b, 4)).toBeCloseTo(2.1 / 5.1, 9);
    // told it had 10 of ours then and has none now: a is idle, 1 s, and best
    expect(scoreOfA({}, { ...stale, outstandingAtHeartbeat: 10 }, { ...b, outstandingAtHeartbeat: 2 }, 4)).toBe(1);
  });
});
