import { ChatMessage, chatText, promptBlocks } from './prompt-blocks';

describe('promptBlocks', () => {
  const opts = { blockSize: 4 };

  it.each([
    ['', 0],
    ['abc', 0],
    ['abcd', 1],
    ['abcdefg', 1],
    ['abcdefgh', 2],
  ])('%j has %i full blocks', (prompt, n) => {
    expect(promptBlocks(prompt, opts)).toHaveLength(n);
  });

  it('gives equal hashes exactly as long as the prefixes are equal', () => {
    const a = promptBlocks('aaaabbbbccccdddd', opts);
    const b = promptBlocks('aaaabbbbXcccdddd', opts);
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(b[2]).not.toBe(a[2]);
    // Same text in block 3, yet a different hash: each hash covers everything before it.
    expect(b[3]).not.toBe(a[3]);
  });

  it('does not depend on where a block sits alone', () => {
    expect(promptBlocks('xxxxaaaa', opts)[1]).not.toBe(promptBlocks('aaaa', opts)[0]);
  });

  it('keeps two models apart', () => {
    expect(promptBlocks('aaaa', { ...opts, model: 'm1' })).not.toEqual(promptBlocks('aaaa', { ...opts, model: 'm2' }));
  });

  it('caps long prompts at maxBlocks', () => {
    expect(promptBlocks('a'.repeat(100), { blockSize: 4, maxBlocks: 3 })).toHaveLength(3);
  });

  it('returns safe integers', () => {
    for (const h of promptBlocks('the quick brown fox jumps over the lazy dog', opts)) expect(Number.isSafeInteger(h)).toBe(true);
  });

  it('makes a conversation share blocks with its continuation', () => {
    const turn1: ChatMessage[] = [
      { role: 'system', content: 'You are a careful assistant for the physics department.' },
      { role: 'user', content: [{ type: 'text', text: 'Explain the Carnot cycle in three sentences.' }] },
    ];
    const turn2: ChatMessage[] = [
      ...turn1,
      { role: 'assistant', content: 'It is a reversible cycle...' },
      { role: 'user', content: 'Why reversible?' },
    ];
    const first = promptBlocks(turn1, { blockSize: 16 });
    expect(first.length).toBeGreaterThan(2);
    expect(promptBlocks(turn2, { blockSize: 16 }).slice(0, first.length)).toEqual(first);
  });

  it('tags roles so moving text between messages changes the prefix', () => {
    expect(chatText([{ role: 'user', content: 'hi' }])).not.toBe(chatText([{ role: 'system', content: 'hi' }]));
  });

  it('hashes whatever content a client sent without throwing (5, {}, true, [null])', () => {
    for (const content of [5, {}, true, [null], [5], [{ type: 'text', text: 7 }]]) {
      const messages = [{ role: 'user', content }] as unknown as ChatMessage[];
      expect(chatText(messages)).toBe(
        '<|user|>\n' + (Array.isArray(content) && typeof content[0] === 'object' && content[0] ? '<text>' : '') + '\n',
      );
      expect(() => promptBlocks(messages, { blockSize: 4 })).not.toThrow();
    }
  });

  it('rejects a block size that is not a positive integer', () => {
    expect(() => promptBlocks('abc', { blockSize: 0 })).toThrow('blockSize must be a positive integer, got 0');
  });
});
