import { embedText, embeddingToBase64 } from './embeddings';
import { countChatTokens, countTokens, fillerText, prefixBlockHashes, promptBytes, renderChatPrompt } from './tokens';

describe('token counting', () => {
  it.each([
    ['', 0],
    ['abcd', 1],
    ['abcde', 2],
    ['日本語', 3], // 9 UTF-8 bytes
  ])('%j counts %d tokens', (text, tokens) => {
    expect(countTokens(text)).toBe(tokens);
  });

  it('counts chat prompts through the ChatML template', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    expect(renderChatPrompt(messages)).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    expect(countChatTokens(messages)).toBe(13);
  });

  it('generates filler that counts back to its own length', () => {
    for (const n of [1, 7, 31, 100]) expect(countTokens(fillerText(5, n))).toBe(n);
  });
});

describe('prefix block hashes', () => {
  it('hash full blocks only, chained so equal keys mean equal prefixes', () => {
    const a = prefixBlockHashes(promptBytes('x'.repeat(64 * 3 + 10)), 16);
    const b = prefixBlockHashes(promptBytes(`${'x'.repeat(64)}y${'x'.repeat(64 * 2)}`), 16);
    expect(a).toHaveLength(3);
    expect(b[0]).toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
    expect(b[2]).not.toBe(a[2]); // same bytes as a's third block, different prefix
    for (const h of a) expect(Number.isSafeInteger(h)).toBe(true);
  });

  it('treat token ids as one token each', () => {
    expect(prefixBlockHashes(promptBytes(Array.from({ length: 40 }, (_, i) => i)), 16)).toHaveLength(2);
  });
});

describe('embeddings', () => {
  const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

  it('are deterministic unit vectors of the asked dimension', () => {
    const v = embedText('The KV cache holds attention keys', 64);
    expect(v).toHaveLength(64);
    expect(cosine(v, v)).toBeCloseTo(1, 5);
    expect(embedText('The KV cache holds attention keys', 64)).toEqual(v);
    expect(cosine(embedText('', 8), embedText('', 8))).toBeCloseTo(1, 5);
  });

  it('place texts that share words closer than unrelated ones', () => {
    const q = embedText('how does prefix caching work in vLLM', 256);
    const near = embedText('prefix caching in vLLM reuses blocks', 256);
    const far = embedText('the weather in Tokyo is sunny today', 256);
    expect(cosine(q, near)).toBeGreaterThan(cosine(q, far) + 0.2);
  });

  it('encode base64 as little-endian float32', () => {
    const v = embedText('abc', 4);
    const bytes = Buffer.from(embeddingToBase64(v), 'base64');
    expect(Array.from({ length: 4 }, (_, i) => bytes.readFloatLE(i * 4))).toEqual(Array.from(v));
  });
});
