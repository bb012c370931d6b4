import { Endpoint } from '../endpoint';
import { endpoint, ids, request } from '../testing/routing.factory';
import { healthFilter } from './health.filter';

describe('healthFilter', () => {
  const now = 1_000;

  it.each<[string, Endpoint[], string[]]>([
    ['keeps ready and draining', [endpoint('r'), endpoint('d', { state: 'draining' })], ['r', 'd']],
    ['drops starting and unhealthy', [endpoint('r'), endpoint('s', { state: 'starting' }), endpoint('u', { state: 'unhealthy' })], ['r']],
    ['skips a worker whose connection failed until later', [endpoint('r'), endpoint('f', { failedUntil: now + 1 })], ['r']],
    ['takes back a worker once its failure mark has passed', [endpoint('r'), endpoint('f', { failedUntil: now })], ['r', 'f']],
    [
      'keeps failed workers when nothing else remains',
      [endpoint('f1', { failedUntil: now + 5 }), endpoint('f2', { failedUntil: now + 9 })],
      ['f1', 'f2'],
    ],
    [
      'still drops not-ready workers when only failed ones remain',
      [endpoint('f', { failedUntil: now + 5 }), endpoint('s', { state: 'starting' })],
      ['f'],
    ],
    ['removes everything when none is serving', [endpoint('s', { state: 'starting' })], []],
  ])('%s', (_case, pool, kept) => {
    expect(ids(healthFilter.filter(request({ arrivedAt: now }), pool))).toEqual(kept);
  });

  it('counts the states it found when nothing is ready', () => {
    const pool = [endpoint('a', { state: 'starting' }), endpoint('b', { state: 'unhealthy' }), endpoint('c', { state: 'starting' })];
    expect(healthFilter.emptyReason(request(), pool)).toBe('no ready worker for "m" (2 starting, 1 unhealthy)');
  });
});
