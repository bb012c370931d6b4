import { KvCache } from './kv-cache';

describe('KvCache', () => {
  it('shares referenced prefix entries and keeps them cached once released', () => {
    const kv = new KvCache(10);
    kv.reference([1, 2], 2);
    kv.reference([1, 2, 3], 2);
    expect(kv.usedBlocks).toBe(6);
    kv.release([1, 2, 3]);
    expect(kv.usedBlocks).toBe(4);
    kv.release([1, 2]);
    expect({ used: kv.usedBlocks, cached: kv.cachedBlocks, available: kv.availableBlocks }).toEqual({ used: 0, cached: 6, available: 10 });
    expect(kv.matchPrefix([1, 2, 3, 4])).toBe(3);
  });

  it('prices a reference by the blocks it takes out of the available pool', () => {
    const kv = new KvCache(10);
    kv.reference([1], 1);
    kv.reference([2], 1);
    kv.release([2]);
    // 1 is in use (free to share), 2 is idle (must be pulled back), 3 is new
    expect(kv.referenceCost([1, 2, 3], 1)).toBe(2);
  });

  it('evicts idle entries oldest-released first, and only when it must', () => {
    const kv = new KvCache(4);
    kv.reference(['a', 'b'], 1);
    kv.release(['a', 'b']); // released tail first: b, then a
    kv.reference(['c', 'd'], 1);
    kv.release(['c', 'd']);
    expect(kv.allocate(1)).toBe(true);
    expect(kv.matchPrefix(['a'])).toBe(1);
    expect(kv.matchPrefix(['b'])).toBe(0);
    expect(kv.allocate(4)).toBe(false);
    expect(kv.allocate(3)).toBe(true);
    expect(kv.cachedBlocks).toBe(0);
  });

  it('forgets everything on clear', () => {
    const kv = new KvCache(4);
    kv.reference([1], 2);
    kv.allocate(1);
    kv.clear();
    expect({ used: kv.usedBlocks, cached: kv.cachedBlocks, hit: kv.matchPrefix([1]) }).toEqual({ used: 0, cached: 0, hit: 0 });
  });
});
