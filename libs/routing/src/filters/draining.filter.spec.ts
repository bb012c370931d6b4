import { endpoint, ids, request } from '../testing/routing.factory';
import { drainingFilter } from './draining.filter';

describe('drainingFilter', () => {
  it.each([
    [[endpoint('a'), endpoint('b', { state: 'draining' })], ['a']],
    [[endpoint('a', { state: 'draining' })], []],
  ])('keeps only workers that are not draining', (pool, kept) => {
    expect(ids(drainingFilter.filter(request(), pool))).toEqual(kept);
  });

  it.each([
    [1, 'the only worker for "m" is draining'],
    [2, 'all 2 workers for "m" are draining'],
  ])('explains %i draining workers', (n, reason) => {
    const pool = Array.from({ length: n }, (_, i) => endpoint(`w${i}`, { state: 'draining' }));
    expect(drainingFilter.emptyReason(request(), pool)).toBe(reason);
  });
});
