import { StepAccumulator } from './step-accumulator';

describe('StepAccumulator', () => {
  it('emits the time-weighted mean of each step once a later step starts, gaps as null', () => {
    const acc = new StepAccumulator(60);
    expect(acc.add(0, 10, 1)).toEqual([]);
    expect(acc.add(10, 10, 3)).toEqual([]);
    expect(acc.add(60, 10, 5)).toEqual([{ end: 60, value: 2 }]);
    expect(acc.add(180, 10, 1)).toEqual([
      { end: 120, value: 5 },
      { end: 180, value: null },
    ]);
    expect(acc.add(30, 10, 9)).toEqual([]); // late: ignored
  });
});
