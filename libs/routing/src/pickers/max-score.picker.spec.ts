import { ScoredEndpoint } from '../plugin';
import { SeededRandom } from '../random';
import { endpoint, request } from '../testing/routing.factory';
import { maxScorePicker } from './max-score.picker';

const scored = (scores: Record<string, number>): ScoredEndpoint[] =>
  Object.entries(scores).map(([id, score]) => ({ endpoint: endpoint(id), score }));

describe('maxScorePicker', () => {
  it.each([
    ['a clear winner', { a: 0.2, b: 0.9, c: 0.5 }, 'b'],
    ['ties go to the smallest id', { c: 1, b: 1, a: 0.5 }, 'b'],
    ['float noise is a tie', { b: 0.1 + 0.2, a: 0.3 }, 'a'],
    ['a single candidate', { a: 0 }, 'a'],
  ])('by id: %s', (_case, scores, picked) => {
    expect(maxScorePicker('id', new SeededRandom(1)).pick(request(), scored(scores))?.id).toBe(picked);
  });

  it('picks nothing from nothing', () => {
    expect(maxScorePicker('id', new SeededRandom(1)).pick(request(), [])).toBeUndefined();
  });

  it('breaks ties with the seeded draw, the same way for the same seed', () => {
    const run = (seed: number) => {
      const picker = maxScorePicker('random', new SeededRandom(seed));
      return Array.from({ length: 40 }, () => picker.pick(request(), scored({ a: 1, b: 1, c: 1, d: 0 }))?.id);
    };
    expect(run(7)).toEqual(run(7));
    expect(new Set(run(7))).toEqual(new Set(['a', 'b', 'c']));
  });

  it('never draws when there is no tie', () => {
    const random = new SeededRandom(3);
    maxScorePicker('random', random).pick(request(), scored({ a: 1, b: 0 }));
    expect(random.state).toBe(3);
  });
});
