import { Endpoint } from '../endpoint';
import { PrefixIndex } from '../prefix/prefix-index';
import { endpoint, request } from '../testing/routing.factory';
import { prefixAffinityScorer } from './prefix-affinity.scorer';

describe('prefixAffinityScorer', () => {
  const indexWith = (held: Record<string, number[]>) => {
    const index = new PrefixIndex(100);
    for (const [id, blocks] of Object.entries(held)) index.record(id, blocks);
    return index;
  };

  it.each<[string, Record<string, number[]>, number[], Partial<Endpoint>, number]>([
    ['all leading blocks held', { a: [1, 2, 3, 4] }, [1, 2, 3, 4], {}, 1],
    ['half the prompt held', { a: [1, 2] }, [1, 2, 3, 4], {}, 0.5],
    ['a gap stops the match', { a: [1, 3, 4] }, [1, 2, 3, 4], {}, 0.25],
    ['a later block alone does not count', { a: [2, 3, 4] }, [1, 2, 3, 4], {}, 0],
    ['unknown endpoint', {}, [1, 2], {}, 0],
    ['no blocks in the request', { a: [1] }, [], {}, 0],
  ])('%s', (_case, held, prefixBlocks, load, score) => {
    const scorer = prefixAffinityScorer({ index: indexWith(held), yieldAtQueue: 4 });
    expect(scorer.score(request({ prefixBlocks }), [endpoint('a', load)]).get('a')).toBeCloseTo(score, 9);
  });

  it.each<[string, Partial<Endpoint>, Partial<Endpoint>, number]>([
    ['a queue 2 longer than the shortest halves the hit', { waiting: 2 }, {}, 0.5],
    ['a queue 4 longer cancels it', { waiting: 4 }, {}, 0],
    ['our own excess over capacity counts as queue', { capacity: 8, outstanding: 11 }, {}, 0.25],
    ['queues equally long everywhere leave the hit whole', { waiting: 6 }, { waiting: 6 }, 1],
    ['only the difference to the shortest queue counts', { waiting: 9 }, { waiting: 7 }, 0.5],
  ])('%s', (_case, holderLoad, otherLoad, score) => {
    const scorer = prefixAffinityScorer({ index: indexWith({ a: [1, 2] }), yieldAtQueue: 4 });
    const scores = scorer.score(request({ prefixBlocks: [1, 2] }), [endpoint('a', holderLoad), endpoint('b', otherLoad)]);
    expect(scores.get('a')).toBeCloseTo(score, 9);
  });

  it('records where a request went so the next one with that prefix finds it', () => {
    const index = new PrefixIndex(100);
    const scorer = prefixAffinityScorer({ index, yieldAtQueue: 4 });
    const pool = [endpoint('a'), endpoint('b')];
    scorer.onPicked(request({ prefixBlocks: [7, 8] }), pool[1]);
    expect(scorer.score(request({ prefixBlocks: [7, 8, 9] }), pool)).toEqual(
      new Map([
        ['a', 0],
        ['b', 2 / 3],
      ]),
    );
  });
});
