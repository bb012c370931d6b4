import { commonPrefixLength, pickSlot } from './slot-choice';

describe('pickSlot', () => {
  it.each([
    [
      'empty caches: the least recently used slot',
      [
        [[], 2],
        [[], 1],
      ],
      [1, 2, 3],
      { index: 1, reuse: 0 },
    ],
    [
      'the slot covering most of the prompt',
      [
        [[1, 2, 3, 9], 1],
        [[1, 2, 3, 4, 7], 2],
      ],
      [1, 2, 3, 4, 5, 6],
      { index: 1, reuse: 4 },
    ],
    [
      'equal cover: the least recently used of them',
      [
        [[1, 2, 3], 5],
        [[1, 2, 3], 4],
      ],
      [1, 2, 3, 4],
      { index: 1, reuse: 3 },
    ],
    [
      'a shared start token alone does not evict a conversation',
      [
        [[1, 8, 8, 8], 2],
        [[], 0],
      ],
      [1, 5, 5, 5],
      { index: 1, reuse: 0 },
    ],
    [
      'a small cover loses to an older slot, whose own prefix still counts',
      [
        [[1, 2, 8], 9],
        [[1, 8, 8], 3],
      ],
      [1, 2, 3, 4, 5, 6],
      { index: 1, reuse: 1 },
    ],
    ['a cached prompt still evaluates its last token', [[[1, 2, 3, 4], 1]], [1, 2, 3], { index: 0, reuse: 2 }],
    ['a one-token prompt reuses nothing', [[[5], 1]], [5], { index: 0, reuse: 0 }],
  ])('%s', (_name, slots, prompt, expected) => {
    const free = (slots as [number[], number][]).map(([cached, lastUsed], index) => ({ index, cached, lastUsed }));
    expect(pickSlot(free, prompt as number[])).toEqual(expected);
  });

  it('has nothing to pick without free slots', () => {
    expect(pickSlot([], [1])).toBeUndefined();
  });

  it('counts a shared prefix', () => {
    expect(commonPrefixLength([1, 2, 3], [1, 2, 4, 5])).toBe(2);
    expect(commonPrefixLength([], [1])).toBe(0);
  });
});
