import fc from 'fast-check';
import { PrefixIndex } from './prefix-index';

describe('PrefixIndex', () => {
  it.each([
    ['the whole prompt', [1, 2, 3], [1, 2, 3], 3],
    ['a longer prompt sharing the prefix', [1, 2, 3], [1, 2, 3, 4, 5], 3],
    ['a shorter prompt', [1, 2, 3], [1, 2], 2],
    ['a different first block', [1, 2, 3], [9, 2, 3], 0],
    ['an empty prompt', [1, 2, 3], [], 0],
  ])('matches %s', (_case, recorded, asked, n) => {
    const index = new PrefixIndex(10);
    index.record('a', recorded);
    expect(index.matchLength('a', asked)).toBe(n);
    expect(index.matchLength('b', asked)).toBe(0);
  });

  it('evicts the least recently routed blocks first', () => {
    const index = new PrefixIndex(4);
    index.record('a', [1, 2]);
    index.record('a', [3, 4]);
    index.record('a', [1, 2]); // touched again: now [3, 4] is the oldest prefix
    index.record('a', [5]);
    expect(index.blockCount('a')).toBe(4);
    expect(index.matchLength('a', [1, 2])).toBe(2);
    expect(index.matchLength('a', [3, 4])).toBe(1);
    expect(index.matchLength('a', [5])).toBe(1);
  });

  it("evicts a prefix's tail before its head, so what remains still matches", () => {
    const index = new PrefixIndex(3);
    index.record('a', [1, 2, 3]);
    index.record('a', [9]);
    expect(index.matchLength('a', [1, 2, 3])).toBe(2);
  });

  it('keeps only the leading blocks of a prompt longer than its capacity', () => {
    const index = new PrefixIndex(2);
    index.record('a', [1, 2, 3, 4]);
    expect(index.matchLength('a', [1, 2, 3, 4])).toBe(2);
    expect(index.blockCount('a')).toBe(2);
  });

  it('keeps endpoints apart: eviction on one leaves the other', () => {
    const index = new PrefixIndex(2);
    index.record('a', [1, 2]);
    index.record('b', [1, 2]);
    index.record('a', [7, 8]);
    expect([index.matchLength('a', [1]), index.matchLength('b', [1, 2])]).toEqual([0, 2]);
  });

  it('drops a removed endpoint, or every endpoint no longer live', () => {
    const index = new PrefixIndex(10);
    for (const id of ['a', 'b', 'c']) index.record(id, [1]);
    index.removeEndpoint('a');
    expect(index.endpointIds()).toEqual(['b', 'c']);
    index.retainEndpoints(['c', 'z']);
    expect(index.endpointIds()).toEqual(['c']);
    expect(index.matchLength('b', [1])).toBe(0);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new PrefixIndex(0)).toThrow('capacityBlocks must be a positive integer, got 0');
  });

  it("finds every endpoint's match in one pass: matchLengths is matchLength for each endpoint, evictions and removals included", () => {
    const arbBlocks = fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 8 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), arbBlocks, fc.boolean()), { maxLength: 30 }),
        arbBlocks,
        (capacity, records, asked) => {
          const index = new PrefixIndex(capacity);
          for (const [id, blocks, remove] of records) {
            if (remove) index.removeEndpoint(id);
            else index.record(id, blocks);
          }
          const hits = index.matchLengths(asked);
          for (const id of ['a', 'b', 'c', 'd']) expect(hits.get(id) ?? 0).toBe(index.matchLength(id, asked));
        },
      ),
      { numRuns: 500 },
    );
  });
});
