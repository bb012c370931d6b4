import { SeededRandom } from './random';

describe('SeededRandom', () => {
  const draw = (r: SeededRandom, n: number) => Array.from({ length: n }, () => r.next());

  it('repeats the same sequence for the same seed, and resumes from a copied state', () => {
    const a = new SeededRandom(42);
    const first = draw(a, 3);
    const resumed = new SeededRandom(a.state);
    expect(draw(new SeededRandom(42), 3)).toEqual(first);
    expect(draw(resumed, 5)).toEqual(draw(a, 5));
  });

  it('stays in range', () => {
    const r = new SeededRandom(9);
    for (const x of draw(r, 1000)) expect(x >= 0 && x < 1).toBe(true);
    for (let i = 0; i < 1000; i++) expect([0, 1, 2]).toContain(r.below(3));
  });
});
