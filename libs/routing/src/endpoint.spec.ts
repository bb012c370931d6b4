import { isIdle, queuedRequests, runningRequests } from './endpoint';
import { endpoint } from './testing/routing.factory';

describe('load now, from the heartbeat and our outstanding count as of it', () => {
  // capacity 8 throughout
  it.each([
    // [case, heard running, heard waiting, outstanding at the heartbeat, outstanding now, running now, queued now, idle]
    ['without the count: as heard', 8, 2, undefined, 0, 8, 2, false],
    ['all of it was ours and has finished: idle at once', 8, 2, 10, 0, 0, 0, true],
    ['ours, some still there: what remains, no queue', 8, 2, 10, 3, 3, 0, false],
    ['another router had 4 of them: those are taken as still there', 8, 2, 6, 0, 4, 0, false],
    ['we sent more since: the excess over capacity queues', 2, 0, 2, 11, 8, 3, false],
    ['KV-bound (queued with 5 running): 5 at once', 5, 3, 8, 7, 5, 2, false],
  ])('%s', (_case, running, waiting, atHeartbeat, outstanding, runningNow, queuedNow, idle) => {
    const e = endpoint('a', {
      running,
      waiting,
      outstanding,
      ...(atHeartbeat === undefined ? {} : { outstandingAtHeartbeat: atHeartbeat }),
    });
    expect(runningRequests(e)).toBe(runningNow);
    expect(queuedRequests(e)).toBe(queuedNow);
    expect(isIdle(e)).toBe(idle);
  });

  it('a full KV cache is not idle, whatever the counts', () => {
    expect(isIdle(endpoint('a', { kvCacheUsage: 1, outstandingAtHeartbeat: 0 }))).toBe(false);
  });
});
