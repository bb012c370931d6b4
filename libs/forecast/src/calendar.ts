/** Seasonal periods of a series, in steps; absent when the step does not divide the period. */
export interface CalendarPeriods {
  readonly hour?: number;
  readonly day?: number;
  readonly week?: number;
}

export const HOUR_SECONDS = 3600;
export const DAY_SECONDS = 86_400;
export const WEEK_SECONDS = 7 * DAY_SECONDS;

export function calendarPeriods(stepSeconds: number): CalendarPeriods {
  const steps = (seconds: number): number | undefined => {
    const n = seconds / stepSeconds;
    // a season needs at least two slots and an exact number of steps to keep its phase
    return Number.isInteger(n) && n >= 2 ? n : undefined;
  };
  return { hour: steps(HOUR_SECONDS), day: steps(DAY_SECONDS), week: steps(WEEK_SECONDS) };
}

/** Human duration for messages: "45 min", "3 h", "2 d". */
export function formatDuration(seconds: number): string {
  const round = (v: number): string => String(Math.round(v * 10) / 10);
  if (seconds < HOUR_SECONDS) return `${round(seconds / 60)} min`;
  if (seconds < 2 * DAY_SECONDS) return `${round(seconds / HOUR_SECONDS)} h`;
  return `${round(seconds / DAY_SECONDS)} d`;
}
