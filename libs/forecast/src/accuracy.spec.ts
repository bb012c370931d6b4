import { AccuracyTally, smapeTerm } from './accuracy';

describe('accuracy', () => {
  it.each([
    { actual: 100, forecast: 100, expected: 0 },
    { actual: 100, forecast: 50, expected: 2 / 3 },
    { actual: 50, forecast: 100, expected: 2 / 3 },
    { actual: 0, forecast: 10, expected: 2 },
    { actual: 0, forecast: 0, expected: 0 },
  ])('sMAPE term of $forecast for $actual is $expected', ({ actual, forecast, expected }) => {
    expect(smapeTerm(actual, forecast)).toBeCloseTo(expected, 12);
  });

  it('summarises sMAPE in percent, MAE and coverage', () => {
    const tally = new AccuracyTally();
    tally.add(100, 100, 110);
    tally.add(100, 50, 90);
    expect(tally.summary()).toEqual({ samples: 2, smape: expect.closeTo(100 / 3, 10), mae: 25, coverage: 0.5 });
  });

  it('leaves coverage out when no upper quantile was given', () => {
    const tally = new AccuracyTally();
    tally.add(1, 1);
    expect(tally.summary().coverage).toBeUndefined();
  });
});
