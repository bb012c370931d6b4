import { endpoint, request } from '../testing/routing.factory';
import { queueDepthScorer } from './queue-depth.scorer';

describe('queueDepthScorer', () => {
  it.each([
    ['empty queue', { waiting: 0 }, 1],
    ['queue at the threshold', { waiting: 8 }, 0.5],
    ['long queue', { waiting: 24 }, 0.25],
    ['our own excess shows a queue the heartbeat has not reported', { waiting: 0, capacity: 8, outstanding: 16 }, 0.5],
    ['the larger of the two views counts', { waiting: 2, capacity: 8, outstanding: 9 }, 0.8],
  ])('%s', (_case, load, score) => {
    expect(
      queueDepthScorer(8)
        .score(request(), [endpoint('a', load)])
        .get('a'),
    ).toBeCloseTo(score, 9);
  });
});
