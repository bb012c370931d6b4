import { calendarPeriods } from './calendar';
import { CandidateModel, candidateSet, Ewma, Persistence, SeasonalLevel, SeasonalNaive } from './candidate-models';

/** Feeds z values (undefined = gap) from step 0 and returns the model. */
function fed(model: CandidateModel, zs: ReadonlyArray<number | undefined>): CandidateModel {
  zs.forEach((z, step) => model.observe(step, z));
  return model;
}

const sine = (period: number, steps: number, amplitude = 1, level = 0): number[] =>
  Array.from({ length: steps }, (_, i) => level + amplitude * Math.sin((2 * Math.PI * i) / period));

describe('candidate models', () => {
  it.each([
    { name: 'persistence keeps the last value', model: () => new Persistence(), zs: [1, 2, 3], h: 4, expected: 3 },
    { name: 'persistence skips gaps', model: () => new Persistence(), zs: [1, 2, undefined, undefined], h: 1, expected: 2 },
    { name: 'ewma weights the newest value by alpha', model: () => new Ewma(0.5), zs: [0, 2], h: 1, expected: 1 },
    { name: 'ewma ignores gaps', model: () => new Ewma(0.5), zs: [0, undefined, 2], h: 1, expected: 1 },
    { name: 'ewma converges on a constant', model: () => new Ewma(0.3), zs: Array(60).fill(5), h: 3, expected: 5 },
    { name: 'seasonal naive repeats one period back', model: () => new SeasonalNaive(4), zs: [10, 11, 12, 13, 20, 21], h: 1, expected: 12 },
    {
      name: 'seasonal naive repeats two periods back for long h',
      model: () => new SeasonalNaive(4),
      zs: [10, 11, 12, 13, 20, 21],
      h: 5,
      expected: 12,
    },
    {
      name: 'seasonal naive steps back a period over a gap',
      model: () => new SeasonalNaive(4),
      zs: [10, 11, 12, 13, 20, 21, undefined, 23],
      h: 3,
      expected: 12,
    },
  ])('$name', ({ model, zs, h, expected }) => {
    expect(fed(model(), zs).predict(h)).toBeCloseTo(expected, 6);
  });

  it.each([
    { name: 'persistence', model: () => new Persistence() },
    { name: 'ewma', model: () => new Ewma(0.5) },
    { name: 'seasonal naive', model: () => new SeasonalNaive(4) },
    { name: 'holt-winters', model: () => new SeasonalLevel(0.5, [{ period: 4, gamma: 0.2 }]) },
  ])('$name says nothing before any valid value', ({ model }) => {
    expect(fed(model(), [undefined, undefined]).predict(1)).toBeUndefined();
  });

  it('seasonal naive says nothing with less than a period of history', () => {
    expect(fed(new SeasonalNaive(24), [1, 2, 3]).predict(1)).toBeUndefined();
  });

  describe('holt-winters (level + additive seasons in log space)', () => {
    it.each([
      { name: 'learns a daily sine', period: 24, seasons: [{ period: 24, gamma: 0.3 }], zs: sine(24, 24 * 60, 1, 5) },
      { name: 'learns an hourly cycle (period 6)', period: 6, seasons: [{ period: 6, gamma: 0.3 }], zs: sine(6, 6 * 60, 0.5, 3) },
      {
        name: 'learns two seasons at once',
        period: 24,
        seasons: [
          { period: 6, gamma: 0.3 },
          { period: 24, gamma: 0.3 },
        ],
        zs: sine(6, 24 * 80, 0.3).map((v, i) => v + sine(24, 24 * 80, 1, 5)[i]),
      },
    ])('$name to within 0.05 at every horizon of a period', ({ period, seasons, zs }) => {
      const model = fed(new SeasonalLevel(0.3, seasons), zs);
      const last = zs.length - 1;
      for (let h = 1; h <= period; h += 1) {
        const step = last + h;
        const truth = zs[step - period * Math.ceil(h / period)];
        expect(Math.abs((model.predict(h) as number) - truth)).toBeLessThan(0.05);
      }
    });

    it.each([
      { periodsAfter: 5, within: 0.25 },
      { periodsAfter: 20, within: 0.02 },
    ])('tracks a level shift of 2 to within $within $periodsAfter periods later', ({ periodsAfter, within }) => {
      const zs = Array.from({ length: 24 * (20 + periodsAfter) }, (_, s) => (s < 24 * 20 ? 5 : 7) + Math.sin((2 * Math.PI * s) / 24));
      const model = fed(new SeasonalLevel(0.5, [{ period: 24, gamma: 0.2 }]), zs);
      for (let h = 1; h <= 24; h += 1) {
        const truth = 7 + Math.sin((2 * Math.PI * (zs.length - 1 + h)) / 24);
        expect(Math.abs((model.predict(h) as number) - truth)).toBeLessThan(within);
      }
    });

    it('beats persistence on a seasonal series at half a period ahead', () => {
      const zs = sine(24, 24 * 20, 1, 5);
      const model = fed(new SeasonalLevel(0.3, [{ period: 24, gamma: 0.3 }]), zs);
      const persistence = fed(new Persistence(), zs);
      const truth = 5 + Math.sin((2 * Math.PI * (zs.length - 1 + 12)) / 24);
      expect(Math.abs((model.predict(12) as number) - truth)).toBeLessThan(Math.abs((persistence.predict(12) as number) - truth) / 10);
    });
  });

  describe('candidateSet', () => {
    it.each([
      {
        step: 600,
        names: [
          'persistence',
          'ewma(0.3)',
          'ewma(0.5)',
          'ewma(0.7)',
          'holt-winters-hourly(0.3)',
          'holt-winters-hourly(0.5)',
          'holt-winters-hourly(0.7)',
          'seasonal-naive-daily',
          'holt-winters-daily',
          'holt-winters-hourly-daily',
          'seasonal-naive-weekly',
          'holt-winters-daily-weekly',
        ],
      },
      {
        step: 3600,
        names: [
          'persistence',
          'ewma(0.3)',
          'ewma(0.5)',
          'ewma(0.7)',
          'seasonal-naive-daily',
          'holt-winters-daily',
          'seasonal-naive-weekly',
          'holt-winters-daily-weekly',
        ],
      },
      { step: 7 * 86_400, names: ['persistence', 'ewma(0.3)', 'ewma(0.5)', 'ewma(0.7)'] },
    ])('offers seasonal candidates only for periods the $step s step divides', ({ step, names }) => {
      expect(candidateSet(calendarPeriods(step)).map((c) => c.name)).toEqual(names);
    });

    it('gives seasonal candidates warm-ups of at least a period', () => {
      const byName = new Map(candidateSet(calendarPeriods(600)).map((c) => [c.name, c.warmupSteps]));
      expect(byName.get('persistence')).toBe(0);
      expect(byName.get('holt-winters-hourly(0.5)')).toBe(12);
      expect(byName.get('seasonal-naive-daily')).toBe(144);
      expect(byName.get('holt-winters-daily')).toBe(288);
      expect(byName.get('seasonal-naive-weekly')).toBe(1008);
    });
  });
});
