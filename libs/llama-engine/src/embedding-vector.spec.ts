import { fromBase64, normalize, toBase64 } from './embedding-vector';

describe('embedding vectors', () => {
  it('normalizes to unit length and leaves a zero vector alone', () => {
    expect(Array.from(normalize([3, 4]))).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    expect(Array.from(normalize([0, 0]))).toEqual([0, 0]);
  });

  it('round-trips float32 little-endian base64 exactly', () => {
    const v = normalize([0.1, -2, 3.5, 1e-7]);
    const text = toBase64(v);
    expect(Buffer.from(text, 'base64')).toHaveLength(16);
    expect(fromBase64(text)).toEqual(v);
  });
});
