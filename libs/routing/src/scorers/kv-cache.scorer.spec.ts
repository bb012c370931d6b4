import { endpoint, request } from '../testing/routing.factory';
import { kvCacheScorer } from './kv-cache.scorer';

describe('kvCacheScorer', () => {
  it.each([
    [0, 1],
    [0.25, 0.75],
    [1, 0],
  ])('usage %f → %f', (kvCacheUsage, score) => {
    expect(kvCacheScorer.score(request(), [endpoint('a', { kvCacheUsage })]).get('a')).toBeCloseTo(score, 9);
  });
});
