import { onBatchShed, overLimit, shedBatch } from './batch-shedding';

describe('overLimit', () => {
  it.each<[string, number | undefined, number, number | undefined]>([
    // name, limit, batch in flight, shed
    ['within its limit: nothing', 4, 3, undefined],
    ['at its limit: nothing', 4, 4, undefined],
    ['over it after a cut: the excess', 2, 5, 3],
    ['no limit known: nothing', undefined, 5, undefined],
  ])('%s', (_case, limit, batchInFlight, shed) => {
    const limits = new Map(limit === undefined ? [] : [['w', limit]]);
    expect(overLimit(limits, [{ workerId: 'w', batchInFlight }]).get('w')).toBe(shed);
  });
});

describe('shedBatch', () => {
  it('asks the shedders in turn until the count is shed, and none after removal', () => {
    const asked: [string, string, number][] = [];
    const offA = onBatchShed((w, n) => (asked.push(['a', w, n]), Math.min(n, 1)));
    const offB = onBatchShed((w, n) => (asked.push(['b', w, n]), Math.min(n, 5)));
    expect(shedBatch('w1', 3)).toBe(3);
    expect(asked).toEqual([
      ['a', 'w1', 3],
      ['b', 'w1', 2],
    ]);
    offA();
    offB();
    expect(shedBatch('w1', 3)).toBe(0);
  });
});
