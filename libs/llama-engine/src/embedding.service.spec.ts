import { JobPool } from '@maas/media';
import { EmbeddingService } from './embedding.service';
import { EmbeddingRuntime } from './llama-runtime';

function fakeRuntime(fail?: string): EmbeddingRuntime & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    contextSize: 64,
    dimensions: 2,
    inputLength: (input) => (typeof input === 'string' ? input.length + 1 : input.length + 1),
    embed: async (input) => {
      const text = typeof input === 'string' ? input : input.join(',');
      seen.push(text);
      if (text === fail) throw new Error(`cannot embed ${text}`);
      return [text.length, 1];
    },
  };
}

describe('EmbeddingService', () => {
  it('embeds a batch in input order as unit vectors and counts the tokens', async () => {
    const service = new EmbeddingService(fakeRuntime(), new JobPool(1));
    const out = await service.embed(['abc', 'a', [5, 6]]);
    expect(out.tokens).toBe(4 + 2 + 3);
    expect(out.vectors.map((v) => Math.hypot(...v))).toEqual([expect.closeTo(1, 6), expect.closeTo(1, 6), expect.closeTo(1, 6)]);
    expect(out.vectors[1][0]).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it('takes turns between requests, so a big batch does not hold up a small one', async () => {
    const runtime = fakeRuntime();
    const service = new EmbeddingService(runtime, new JobPool(1));
    await Promise.all([service.embed(['a1', 'a2', 'a3', 'a4', 'a5'], { owner: 'big' }), service.embed(['b1'], { owner: 'small' })]);
    // a1 was running and a2 first in the rotation when b1 arrived; b1 does not wait for a5.
    expect(runtime.seen).toEqual(['a1', 'a2', 'b1', 'a3', 'a4', 'a5']);
  });

  it('fails the whole batch when one input fails and skips the rest', async () => {
    const runtime = fakeRuntime('x2');
    const service = new EmbeddingService(runtime, new JobPool(1));
    await expect(service.embed(['x1', 'x2', 'x3', 'x4'])).rejects.toThrow('cannot embed x2');
    expect(runtime.seen).toEqual(['x1', 'x2']);
  });
});
