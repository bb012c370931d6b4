import { endpoint, request } from '../testing/routing.factory';
import { leastOutstandingScorer } from './least-outstanding.scorer';

describe('leastOutstandingScorer', () => {
  it.each([
    ['idle', 8, 0, 1],
    ['half full', 8, 4, 8 / 12],
    ['at capacity', 8, 8, 0.5],
    ['over capacity', 8, 24, 0.25],
    ['small worker, same count', 2, 4, 1 / 3],
    ['capacity unknown counts as 1', 0, 1, 0.5],
  ])('%s (capacity %i, outstanding %i) → %f', (_case, capacity, outstanding, score) => {
    const scores = leastOutstandingScorer.score(request(), [endpoint('a', { capacity, outstanding })]);
    expect(scores.get('a')).toBeCloseTo(score, 9);
  });

  it('prefers the emptier worker relative to its size', () => {
    const scores = leastOutstandingScorer.score(request(), [
      endpoint('big', { capacity: 32, outstanding: 8 }),
      endpoint('small', { capacity: 4, outstanding: 2 }),
    ]);
    expect(scores.get('big')).toBeGreaterThan(scores.get('small')!);
  });
});
