/** Number and duration formatting for decision reasons: short, stable across platforms. */

/** One decimal at most, no trailing ".0": 14.2, 3, 0.4. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const rounded = Math.round(value * 10) / 10;
  return Object.is(rounded, -0) ? '0' : String(rounded);
}

/** "45 s", "3 min", "2.5 h". */
export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 2 * 3600) return `${num(seconds / 60)} min`;
  return `${num(seconds / 3600)} h`;
}

export function plural(count: number, noun: string): string {
  return `${num(count)} ${noun}${count === 1 ? '' : 's'}`;
}
