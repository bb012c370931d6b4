import { TextStream } from './text-stream';

// A byte-level vocabulary: token n is byte n, decoded as UTF-8 the way llama.cpp does.
const bytesOf = (tokens: readonly number[]) => Buffer.from(tokens).toString('utf8');

describe('TextStream', () => {
  it('sends each token as it comes when it completes a character', () => {
    const s = new TextStream((t) => bytesOf(t));
    expect([...Buffer.from('hi!')].map((b) => s.push(b))).toEqual(['h', 'i', '!']);
  });

  it('holds the bytes of a split character until it is whole', () => {
    const s = new TextStream((t) => bytesOf(t));
    const out = [...Buffer.from('aあb')].map((b) => s.push(b));
    expect(out).toEqual(['a', '', '', 'あ', 'b']);
    expect(out.join('')).toBe('aあb');
  });

  it('gives up on a broken character after four tokens, as the whole answer would show it', () => {
    const s = new TextStream((t) => bytesOf(t));
    const out = [0xe3, 0xe3, 0xe3, 0xe3].map((b) => s.push(b));
    expect(out.join('')).toBe(bytesOf([0xe3, 0xe3, 0xe3, 0xe3]));
    expect(out.slice(0, 3)).toEqual(['', '', '']);
  });

  it('flushes what is held at the end', () => {
    const s = new TextStream((t) => bytesOf(t));
    expect(s.push(0xe3)).toBe('');
    expect(s.flush()).toBe('\uFFFD');
    expect(s.flush()).toBe('');
  });

  it('passes the preceding tokens, prompt included, to the detokenizer', () => {
    const seen: number[][] = [];
    const s = new TextStream(
      (t, last) => {
        seen.push([...last]);
        return bytesOf(t);
      },
      [1, 2, 3],
    );
    s.push(65);
    s.push(66);
    expect(seen).toEqual([
      [1, 2, 3],
      [1, 2, 3, 65],
    ]);
  });
});
