import { calendarPeriods, formatDuration } from './calendar';

describe('calendar', () => {
  it.each([
    { step: 600, periods: { hour: 6, day: 144, week: 1008 } },
    { step: 60, periods: { hour: 60, day: 1440, week: 10_080 } },
    { step: 3600, periods: { hour: undefined, day: 24, week: 168 } },
    { step: 420, periods: { hour: undefined, day: undefined, week: 1440 } },
  ])('periods of a $step s step', ({ step, periods }) => {
    expect(calendarPeriods(step)).toEqual(periods);
  });

  it.each([
    { seconds: 600, text: '10 min' },
    { seconds: 3 * 3600, text: '3 h' },
    { seconds: 86_400, text: '24 h' },
    { seconds: 2 * 86_400, text: '2 d' },
    { seconds: 8.5 * 86_400, text: '8.5 d' },
  ])('formats $seconds s as "$text"', ({ seconds, text }) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});
