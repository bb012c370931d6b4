import { empiricalQuantile, normalQuantile, SortedWindow } from './quantiles';
import { seededRandom } from './synthetic-demand';

describe('quantiles', () => {
  it.each([
    { values: [1, 2, 3, 4, 5], level: 0.5, expected: 3 },
    { values: [1, 2, 3, 4, 5], level: 0.9, expected: 4.6 },
    { values: [1, 2, 3, 4, 5], level: 1, expected: 5 },
    { values: [1, 2, 3, 4, 5], level: 0, expected: 1 },
    { values: [7], level: 0.9, expected: 7 },
  ])('empirical quantile $level of $values is $expected (type 7)', ({ values, level, expected }) => {
    expect(empiricalQuantile(values, level)).toBeCloseTo(expected, 10);
  });

  it('has no quantile of nothing', () => {
    expect(empiricalQuantile([], 0.9)).toBeUndefined();
    expect(new SortedWindow(3).quantile(0.9)).toBeUndefined();
  });

  it('keeps only the last `capacity` values', () => {
    const window = new SortedWindow(3);
    [9, 1, 5, 7].forEach((v) => window.push(v));
    expect(window.size).toBe(3);
    expect(window.quantile(0)).toBe(1);
    window.push(8);
    expect(window.quantile(0)).toBe(5);
    expect(window.quantile(1)).toBe(8);
  });

  it('matches sorting the last window of a seeded stream', () => {
    const random = seededRandom(7);
    const window = new SortedWindow(50);
    const all: number[] = [];
    for (let i = 0; i < 500; i += 1) {
      const v = Math.round(random() * 100) / 10;
      all.push(v);
      window.push(v);
    }
    const last = all.slice(-50).sort((a, b) => a - b);
    for (const level of [0.1, 0.5, 0.9, 0.99]) expect(window.quantile(level)).toBeCloseTo(empiricalQuantile(last, level) as number, 12);
  });

  it.each([
    { p: 0.5, z: 0 },
    { p: 0.9, z: 1.2815515655 },
    { p: 0.975, z: 1.9599639845 },
    { p: 0.01, z: -2.326347874 },
    { p: 0.999, z: 3.0902323062 },
  ])('normal quantile of $p is $z', ({ p, z }) => {
    expect(normalQuantile(p)).toBeCloseTo(z, 7);
  });
});
