import { Endpoint } from '../endpoint';
import { PrefixIndex } from '../prefix/prefix-index';
import { endpoint, request } from '../testing/routing.factory';
import { PrefillBacklog, predictedTtftScorer } from './predicted-ttft.scorer';

/** 100 tokens a block at 1,000 tokens a second: a block is 0.1 s of prefill. */
const RATE = 1000;
const BLOCK = 100;

function scorerWith(held: Record<string, number[]>, decodeSlowdown = 0) {
  const index = new PrefixIndex(100);
  for (const [id, blocks] of Object.entries(held)) index.record(id, blocks);
  return predictedTtftScorer({ index, backlog: new PrefillBacklog(), blockTokens: BLOCK, prefillTokensPerSecond: RATE, decodeSlowdown });
}

/** Score of `a` against `b`, for a 10-block prompt [1..10]. */
function scoreOfA(held: Record<string, number[]>, a: Partial<Endpoint>, b: Partial<Endpoint>, decodeSlowdown = 0): number {
  const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  return scorerWith(held, decodeSlowdown)
    .score(request({ prefixBlocks: prompt }), [endpoint('a', a), endpoint('b', b)])
    .get('a')!;
}

describe('predictedTtftScorer', () => {
  // Predicted TTFT in seconds: (pending prefill + uncached prompt) / rate × (1 + slowdown × busy); score = (best + 0.1) / (own + 0.1).
  it.each<[string, Record<string, number[]>, Partial<Endpoint>, Partial<Endpoint>, number, number]>([
    ['idle and equal: both best', {}, {}, {}, 0, 1],
    ['a holds the whole prompt, both idle: a predicts 0 s, b 1 s', { a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, {}, {}, 0, 1],
    ['b holds the whole prompt: a 1 s against b 0 s', { b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, {}, {}, 0, 0.1 / 1.1],
    ['a holds half: 0.5 s against 1 s', { a: [1, 2, 3, 4, 5] }, {}, {}, 0, 1],
    ['b holds half: 1 s against 0.5 s', { b: [1, 2, 3, 4, 5] }, {}, {}, 0, 0.6 / 1.1],
    ['a full batch decoding slows a by half: 1.5 s against 1 s', {}, { running: 8 }, {}, 0.5, 1.1 / 1.6],
    ['half a batch: 1.25 s against 1 s', {}, { running: 4 }, {}, 0.5, 1.1 / 1.35],
  ])('%s', (_case, held, a, b, slowdown, score) => {
    expect(scoreOfA(held, a, b, slowdown)).toBeCloseTo(score, 9);
  });

  it('a prefix hit wins while the holder queues less prefill than it saves, and loses once it queues more', () => {
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const scorer = scorerWith({ a: prompt });
    const clock = 10_000;
    // Route 5 blocks of other prompts to a at one instant: 0.5 s of prefill queued before the hit saves 1 s.
    scorer.onPicked(request({ prefixBlocks: [21, 22, 23, 24, 25], arrivedAt: clock }), endpoint('a', { outstanding: 0 }));
    let scores = scorer.score(request({ prefixBlocks: prompt, arrivedAt: clock }), [endpoint('a', { outstanding: 1 }), endpoint('b')]);
    expect(scores.get('a')).toBe(1);
    expect(scores.get('b')).toBeCloseTo(0.6 / 1.1, 9);
    // 15 more blocks: 2 s queued on a, more than the 1 s its cache saves, so the idle b wins.
    scorer.onPicked(
      request({ prefixBlocks: [31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45], arrivedAt: clock }),
      endpoint('a', { outstanding: 1 }),
    );
    scores = scorer.score(request({ prefixBlocks: prompt, arrivedAt: clock }), [endpoint('a', { outstanding: 2 }), endpoint('b')]);
    expect(scores.get('b')).toBe(1);
    expect(scores.get('a')).toBeCloseTo(1.1 / 2.1, 9);
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

  it('records where a request went, so the next prompt sharing its prefix finds it there', () => {
    const scorer = scorerWith({});
    scorer.onPicked(request({ prefixBlocks: [7, 8], arrivedAt: 0 }), endpoint('b'));
    const scores = scorer.score(request({ prefixBlocks: [7, 8, 9], arrivedAt: 60_000 }), [endpoint('a'), endpoint('b')]);
    expect(scores.get('b')).toBe(1);
    expect(scores.get('a')).toBeCloseTo(0.2 / 0.4, 9);
  });
});
